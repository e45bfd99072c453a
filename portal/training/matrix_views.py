"""(Being built.)"""
from flask import abort

from portal.training import bp


@bp.route("/matrix")
def matrix():
    abort(404)
