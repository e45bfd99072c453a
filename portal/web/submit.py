"""The one way a view runs a form through a service: validate, call, commit or roll back.

    result = submit(form, lambda: services.create_x(actor, ...))
    if result is not FAILED:
        flash(...); return redirect_to(...)
    return render(...), form_status(form)
"""
from __future__ import annotations

from typing import Any, Callable

from portal.core.errors import ServiceError
from portal.extensions import db

#: Returned when the form was not posted, did not validate, or the service refused it.
FAILED: Any = object()


def submit(form, action: Callable[[], Any]):
    """When the posted form validates, run ``action`` (a service call) and commit, returning its result.
    When the service raises ServiceError, roll back, put its messages on the form and return FAILED."""
    if not form.validate_on_submit():
        return FAILED
    try:
        result = action()
    except ServiceError as exc:
        db.session.rollback()
        exc.apply_to_form(form)
        return FAILED
    db.session.commit()
    return result


def form_status(form) -> int:
    """422 when the form shows errors (htmx swaps it in place), else 200."""
    return 422 if form.errors or form.form_errors else 200
