from flask import Blueprint

bp = Blueprint("org", __name__, url_prefix="/admin/org")

from portal.org import views  # noqa: E402,F401
