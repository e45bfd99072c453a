"""Error pages, rendered as full pages or as htmx fragments."""
from __future__ import annotations

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


def render_error(status: int, message: str | None = None):
    message = message or _messages().get(status, _messages()[500])
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=status, message=message), status
    template = "errors/_partials/_error.html" if wants_partial() else "errors/error.html"
    response = make_response(render_template(template, status=status, message=message), status)
    response.vary.add("HX-Request")
    return response


#: What a 503 for a busy database asks the browser to wait, in seconds.
BUSY_RETRY_AFTER = 5


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, _("The form has expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit_mb = (app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
        return render_error(413, _("The upload is too large (at most %(mb)d MB).", mb=limit_mb))

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
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response = make_response(response)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110: say what is allowed
        return response

    @app.errorhandler(sa.exc.DBAPIError)
    def database_error(exc):
        db.session.rollback()
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
