from __future__ import annotations

from flask import current_app, jsonify, redirect, request, send_from_directory, session, url_for
from flask_login import current_user

from portal.core.db_setup import database_ok
from portal.core.i18n import remember_locale
from portal.extensions import rq
from portal.web import bp
from portal.web.access import public
from portal.web.htmx import is_safe_next
from portal.web.submit import perform


@bp.route("/healthz")
@public
def healthz():
    """Liveness and readiness: database and Redis status, and the version. 503 when the database is down."""
    from portal import __version__

    database = "ok" if database_ok() else "error"
    redis_status = "ok" if rq.ping() else "error"
    workers = schedulers = None
    if redis_status == "ok":
        workers, schedulers = rq.process_counts()
    status = 200 if database == "ok" else 503
    body = {
        "status": "ok" if status == 200 and redis_status == "ok" else ("degraded" if status == 200 else "error"),
        "database": database,
        "redis": redis_status,
        "redis_mode": "embedded" if rq.embedded else "external",
        "workers": workers,
        "cron_schedulers": schedulers,
        "version": __version__,
    }
    return jsonify(body), status


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the interface language (zh_Hans_CN or en) for this browser, and for the account if logged in."""
    code = request.form.get("lang", "")
    if code in current_app.config["PORTAL_LANGUAGES"]:
        session["lang"] = code
        if current_user.is_authenticated and current_user.locale != code:
            perform(lambda: remember_locale(current_user, code))
    target = request.form.get("next", "")
    return redirect(target if is_safe_next(target) else url_for("home.index"), 303)


@bp.route("/favicon.ico")
@public
def favicon():
    """The icon browsers ask for at the root (pages also link static/favicon.svg); cached for a week."""
    response = send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                                   max_age=7 * 24 * 3600)
    response.cache_control.public = True
    return response
