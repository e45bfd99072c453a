from flask import Blueprint

bp = Blueprint("workcal", __name__, url_prefix="/admin/calendar")

from portal.workcal import views  # noqa: E402,F401
