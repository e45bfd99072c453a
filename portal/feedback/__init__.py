"""客户意见: the customers' kiosk pages (/k/, /q/, public), the staff pages (/feedback/), the service points
(/service-points/) and the device API (/api/v1/)."""
from flask import Blueprint

from portal.api.blueprints import api_blueprint

bp = Blueprint("feedback", __name__, url_prefix="/feedback")
points_bp = Blueprint("points", __name__, url_prefix="/service-points")
kiosk_bp = Blueprint("kiosk", __name__)
api_bp = api_blueprint("feedback_api", __name__)

from portal.feedback import api_views, kiosk_views, points_views, views  # noqa: E402,F401
