"""The one way a view runs a service that writes: validate, call, commit or roll back.

A form with fields::

    result = submit(form, lambda: services.create_x(actor, ...))
    if result is not FAILED:
        flash(...); return redirect_to(...)
    return render(...), form_status(form)

A button post without fields (publish, remind, deactivate; CSRF is checked globally)::

    outcome = flash_outcome(perform(lambda: services.publish_x(actor, x)), _("Published."))

A ``ServiceError`` rolls the transaction back, except one whose ``keep_changes`` is true (a wrong
e-signature or login password: the failed attempt must count towards the lockout), which is committed.
Views never call ``db.session.commit()`` or ``rollback()`` themselves (tests/web/test_thin_views.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import flash

from portal.core.errors import ServiceError
from portal.extensions import db

#: Returned when the form was not posted, did not validate, or the service refused it.
FAILED: Any = object()


@dataclass
class Outcome:
    """What ``perform`` did: the service's return value, or the ServiceError that refused it."""

    value: Any = None
    error: ServiceError | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def message(self) -> str:
        return str(self.error) if self.error is not None else ""


def _settle(exc: ServiceError) -> None:
    if exc.keep_changes:
        db.session.commit()
    else:
        db.session.rollback()


def perform(action: Callable[[], Any]) -> Outcome:
    """Run ``action`` (a service call) and commit; on ServiceError roll back (or keep) and report it."""
    try:
        value = action()
    except ServiceError as exc:
        _settle(exc)
        return Outcome(error=exc)
    db.session.commit()
    return Outcome(value=value)


def submit(form, action: Callable[[], Any]):
    """When the posted form validates, run ``action`` (a service call) and commit, returning its result.
    When the service raises ServiceError, roll back (or keep), put its messages on the form and return
    FAILED."""
    if not form.validate_on_submit():
        return FAILED
    outcome = perform(action)
    if outcome.failed:
        outcome.error.apply_to_form(form)
        return FAILED
    return outcome.value


def flash_outcome(outcome: Outcome, success_message: str, category: str = "success") -> Outcome:
    """Flash the service's refusal, or ``success_message`` when it went through."""
    flash(outcome.message, "danger") if outcome.failed else flash(success_message, category)
    return outcome


def form_status(form) -> int:
    """422 when the form shows errors (htmx swaps it in place), else 200."""
    return 422 if form.errors or form.form_errors else 200
