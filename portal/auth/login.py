"""Flask-Login wiring: user loading by ``id:nonce:token`` (a login session) and the unauthorized response."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal.auth.services import session_user
from portal.extensions import htmx


def init_app(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(session_id: str):
        return session_user(session_id)

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
