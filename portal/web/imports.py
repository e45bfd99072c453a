"""The two halves of every previewed spreadsheet import (roster, matrix): upload-and-preview, then apply.

``upload(actor, filename, content) -> (pending | None, plan)`` validates and keeps the file;
``apply(actor, import_id) -> (pending, plan | None)`` writes it (plan None: it was applied already).
"""
from __future__ import annotations

from typing import Callable

from flask import flash, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.core.errors import ServiceError
from portal.core.forms import ConfirmForm
from portal.extensions import db
from portal.web.htmx import redirect_to, render


def preview_upload(form, upload: Callable, page: str, partial: str):
    """Validate the uploaded file and show the preview (422 when the file or a row is invalid)."""

    plan = pending = None
    status = 200
    if form.validate_on_submit():
        file = form.file.data
        try:
            pending, plan = upload(current_user._get_current_object(), file.filename or "", file.read())
        except ServiceError as exc:
            db.session.rollback()
            exc.apply_to_form(form)
        else:
            db.session.commit()
        if form.form_errors or (plan is not None and not plan.valid):
            status = 422
    elif request.method == "POST":
        status = 422
    return render(page, partial, form=form, plan=plan, pending=pending, confirm=ConfirmForm()), status


def apply_upload(apply: Callable, import_id: int, *, retry_url: str, done_url: str, done_message: Callable):
    """Apply a previewed import; a second click applies nothing. ``done_message(pending, plan)`` → flash text."""
    try:
        pending, plan = apply(current_user._get_current_object(), import_id)
    except ServiceError as exc:
        db.session.rollback()
        flash(_("Nothing was imported: %(errors)s", errors=str(exc)), "danger")
        return redirect_to(retry_url)
    db.session.commit()
    if plan is None:
        flash(_("This import was already applied."), "info")
    else:
        flash(done_message(pending, plan), "success")
    return redirect_to(done_url)
