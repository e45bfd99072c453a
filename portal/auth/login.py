"""Flask-Login wiring: user loading by ``id:nonce`` and the unauthorized response."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal.extensions import db, htmx
from portal.org.models import User


def init_app(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(session_id: str):
        user_id, _, nonce = (session_id or "").partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_nonce != nonce:
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        if htmx:
            # A fragment must not receive the login page: navigate the whole page instead.
            current = request.headers.get("HX-Current-URL", "")
            parts = urlsplit(current)
            nxt = (parts.path + (f"?{parts.query}" if parts.query else "")) if current else ""
            response = app.response_class("", status=401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=nxt or None)
            return response
        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
