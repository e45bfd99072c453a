"""Default-deny access: every endpoint needs a logged-in user unless it is marked ``@public``.

Role checks for whole admin areas are installed per blueprint with :func:`require_roles`; services check
again with :func:`ensure_role`, because a view is not the only way into a service.
"""
from __future__ import annotations

from typing import Callable

from flask import current_app, request, url_for
from flask_login import current_user

from portal.core.errors import PermissionDenied

PUBLIC_ATTR = "_portal_public"
TOKEN_ATTR = "_portal_token_auth"


def public(view: Callable) -> Callable:
    """Mark a view as reachable without logging in."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def token_authenticated(view: Callable) -> Callable:
    """Mark a view that authenticates its caller itself, by an API token (``portal.api.auth``), not by a
    login session: the login check lets it through, and the view refuses a request without a valid token."""
    setattr(view, TOKEN_ATTR, True)
    return view


def is_token_endpoint(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(view is not None and getattr(view, TOKEN_ATTR, False))


def is_public_endpoint(endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(view is not None and getattr(view, PUBLIC_ATTR, False))


def acting_user():
    """The logged-in user as a plain object, to hand to services (not the request-bound proxy)."""
    return current_user._get_current_object()


def ensure_role(user, *roles: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_role(*roles):
        raise PermissionDenied()


def require_roles(*roles: str):
    def check():
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        ensure_role(current_user, *roles)
        return None

    return check


def init_app(app) -> None:
    @app.before_request
    def login_by_default():
        if is_public_endpoint(request.endpoint) or is_token_endpoint(request.endpoint):
            return None
        if not current_user.is_authenticated:
            return app.login_manager.unauthorized()
        if current_user.must_change_password and request.endpoint not in {"auth.change_password", "auth.logout"}:
            from portal.web.htmx import redirect_to

            return redirect_to(url_for("auth.change_password"))
        return None
