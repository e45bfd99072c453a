"""(Being built.)"""
from flask import abort

from portal.training import bp


@bp.route("/sessions")
def sessions():
    abort(404)
