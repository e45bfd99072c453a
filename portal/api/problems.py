"""Errors of the API as problem details (RFC 9457, ``application/problem+json``): a machine-readable
``code``, a Chinese ``title`` and ``detail`` (in the portal's language), the HTTP ``status``, and for
invalid input the ``errors`` of each field."""
from __future__ import annotations

from flask import current_app, json, make_response
from flask_babel import gettext as _

MIMETYPE = "application/problem+json"
TYPE_PREFIX = "urn:service-quality-portal:problem:"


def _titles() -> dict[int, str]:
    return {
        400: _("Malformed request"),
        401: _("Authentication required"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("Request too large"),
        415: _("Unsupported media type"),
        422: _("Invalid data"),
        429: _("Too many requests"),
        500: _("Server error"),
        503: _("Service unavailable"),
    }


#: The machine code of an error that carries none of its own.
STATUS_CODES = {400: "malformed_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid", 429: "rate_limited", 500: "server_error", 503: "unavailable"}


class ApiError(Exception):
    """Raised by an API view or its helpers; answered as a problem document."""

    def __init__(self, status: int, code: str, detail: str, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.errors = errors or []
        self.headers = headers or {}


def problem(status: int, code: str | None = None, detail: str = "", errors: list[dict] | None = None,
            headers: dict[str, str] | None = None):
    code = code or STATUS_CODES.get(status, "error")
    title = _titles().get(status, _titles()[500])
    body = {"type": TYPE_PREFIX + code, "title": title, "status": status, "code": code, "detail": detail or title}
    if errors:
        body["errors"] = errors
    response = make_response(json.dumps(body, ensure_ascii=False), status)
    response.mimetype = MIMETYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def from_error(exc: ApiError):
    return problem(exc.status, exc.code, exc.detail, exc.errors, exc.headers)


def render_status(status: int, message: str):
    """The error renderer of API blueprints (``portal.web.errors.register_error_renderer``)."""
    if status >= 500 and status != 503:
        current_app.logger.error("API answered %s", status)
    return problem(status, None, message)
