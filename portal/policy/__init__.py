from flask import Blueprint

bp = Blueprint("policy", __name__, url_prefix="/quality/policy")

from portal.policy import views  # noqa: E402,F401
