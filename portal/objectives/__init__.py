from flask import Blueprint

bp = Blueprint("objectives", __name__, url_prefix="/quality/objectives")

from portal.objectives import views  # noqa: E402,F401
