"""(Being built.)"""
from flask import abort

from portal.training import bp


@bp.route("/qualifications")
def qualifications():
    abort(404)
