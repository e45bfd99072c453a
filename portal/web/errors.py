"""Error pages, rendered as full pages or as htmx fragments."""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from flask import jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from portal.core.db_setup import is_lock_timeout
from portal.core.errors import NotFound, PermissionDenied
from portal.extensions import db
from portal.web.htmx import wants_partial


def _messages():
    return {
        400: _("The request could not be understood."),
        403: _("You do not have permission to do this."),
        404: _("The page or record was not found."),
        405: _("This action is not allowed here."),
        409: _("Someone else changed this record first. Reload and try again."),
        413: _("The upload is too large."),
        422: _("The submitted data is invalid."),
        429: _("Too many requests. Please wait a moment and try again."),
        500: _("Something went wrong on our side. The error has been logged."),
        503: _("The service is temporarily unavailable."),
    }


#: Blueprints whose errors are not portal pages: the kiosk (a page for customers, without the portal's
#: navigation) and the API (problem details). ``renderer(status, message) -> response``.
_renderers: dict[str, Callable[[int, str], object]] = {}
_prefix_renderers: dict[str, Callable[[int, str], object]] = {}


def register_error_renderer(blueprint: str, renderer: Callable[[int, str], object], *, path_prefix: str = "") -> None:
    """Render the errors of requests to ``blueprint``'s routes with ``renderer`` (registered at set-up); with
    ``path_prefix``, also those of URLs under it that match no route (a 404 or 405 under /api/)."""
    if blueprint:
        _renderers[blueprint] = renderer
    if path_prefix:
        _prefix_renderers[path_prefix] = renderer


def _renderer_for_request():
    renderer = _renderers.get(request.blueprint or "")
    if renderer is None and request.url_rule is None:
        renderer = next((r for prefix, r in _prefix_renderers.items() if request.path.startswith(prefix)), None)
    return renderer


def render_error(status: int, message: str | None = None):
    message = message or _messages().get(status, _messages()[500])
    renderer = _renderer_for_request()
    if renderer is not None:
        return renderer(status, message)
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=status, message=message), status
    template = "errors/_partials/_error.html" if wants_partial() else "errors/error.html"
    response = make_response(render_template(template, status=status, message=message), status)
    response.vary.add("HX-Request")
    return response


#: What a 503 for a busy database asks the browser to wait, in seconds.
BUSY_RETRY_AFTER = 5
#: ... and for a database that cannot be reached.
UNREACHABLE_RETRY_AFTER = 30


def is_disconnect(exc: sa.exc.DBAPIError) -> bool:
    """The database could not be reached, or the connection broke (not a refusal of the statement)."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    text = str(exc.orig).lower()
    return any(words in text for words in ("connection refused", "could not connect", "connection failed",
                                            "server closed the connection", "terminating connection",
                                            "unable to open database file", "connection timeout",
                                            "timeout expired", "no such host", "name or service not known"))


def _rollback_quietly() -> None:
    """Roll the session back; with the database gone the rollback itself may fail, which changes nothing."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.close()


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, _("The form has expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = request.max_content_length or 0  # this request's: a blueprint may set a smaller one (web.bodylimit)
        if limit < 1024 * 1024:
            return render_error(413, _("The body is too large: at most %(kb)d KB.", kb=limit // 1024))
        return render_error(413, _("The upload is too large (at most %(mb)d MB).", mb=limit // (1024 * 1024)))

    @app.errorhandler(PermissionDenied)
    def permission_denied(exc):
        db.session.rollback()
        return render_error(403)

    @app.errorhandler(NotFound)
    def not_found(exc):
        db.session.rollback()
        return render_error(404)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code and exc.code < 400:
            return exc
        response = render_error(exc.code or 500)
        if exc.code == 429 and getattr(exc, "limit", None) is not None:
            # Flask-Limiter's own headers are off (two Redis round trips on every limited request); a refusal
            # still says when to come back: at most the breached window's length.
            response = make_response(response)
            response.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response = make_response(response)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110: say what is allowed
        return response

    @app.errorhandler(sa.exc.DBAPIError)
    def database_error(exc):
        _rollback_quietly()
        if is_disconnect(exc):
            # The database is down or unreachable: nothing was written; the same request may well succeed
            # in a moment (a customer at a kiosk gets a "please try again" page, not a stack trace).
            app.logger.error("database unreachable on %s %s: %s", request.method, request.path, exc.orig)
            response = make_response(render_error(503, _("The service is briefly unavailable. Nothing was "
                                                          "saved: please try again in a moment.")))
            response.headers["Retry-After"] = str(UNREACHABLE_RETRY_AFTER)
            return response
        if not is_lock_timeout(exc):
            app.logger.exception("unhandled error on %s %s", request.method, request.path)
            return render_error(500)
        # Another transaction kept the write lock past the busy timeout (SQLite) or the lock timeout
        # (PostgreSQL): nothing was written, and the same request will most likely succeed in a moment.
        app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc.orig)
        response = render_error(503, _("The database is busy. Please try again in a moment."))
        if isinstance(response, tuple):
            response = make_response(*response)
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response

    @app.errorhandler(Exception)
    def server_error(exc):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
