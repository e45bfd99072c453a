from flask import Blueprint

bp = Blueprint("sop", __name__, url_prefix="/quality/documents")

from portal.sop import views  # noqa: E402,F401
