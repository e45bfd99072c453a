"""``@token_required("write")``: the API's one authentication check, and where an ``ApiError`` raised by the view
becomes a problem document (views just raise it). The view is marked token-authenticated
(``portal.web.access``), so the login check lets it through; here the bearer token is required, looked up
by its hash, and its scope checked. The token is on ``g.api_token`` for the view."""
from __future__ import annotations

import functools
from typing import Callable

from flask import g, request
from flask_babel import gettext as _

from portal.api import services
from portal.api.problems import ApiError, from_error
from portal.web.access import token_authenticated
from portal.web.submit import perform


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def current_token():
    return g.get("api_token")


def token_required(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                plain = bearer_token()
                if not plain:
                    raise ApiError(401, "token_missing", _("Send an API token: Authorization: Bearer <token>."))
                token = services.authenticate(plain)
                if token is None:
                    raise ApiError(401, "token_invalid", _("The API token is unknown or has been revoked."))
                if scope not in token.scope_set:
                    raise ApiError(403, "scope_missing", _("This token does not have the %(scope)s scope.", scope=scope))
            except ApiError as exc:
                return from_error(exc)
            g.api_token = token
            token_id, last_used_at = token.id, token.last_used_at
            try:
                response = view(*args, **kwargs)
            except ApiError as exc:  # the view's refusal: a problem document, and the token was still used
                response = from_error(exc)
            perform(lambda: services.note_use(token_id, last_used_at))
            return response

        return token_authenticated(wrapper)

    return decorate
