from flask import Blueprint

bp = Blueprint("raci", __name__, url_prefix="/quality/matrix")

from portal.raci import views  # noqa: E402,F401
