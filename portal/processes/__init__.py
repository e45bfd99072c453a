from flask import Blueprint

bp = Blueprint("processes", __name__, url_prefix="/quality/processes")

from portal.processes import views  # noqa: E402,F401
