"""The device and integration API (``/api/v1``): token authentication, problem details (RFC 9457), the
OpenAPI 3.1 document, and the administrators' page for tokens. Domains add their own operations with
:func:`portal.api.blueprints.api_blueprint` and :func:`portal.api.openapi.register_operation`."""
from flask import Blueprint

#: /api/v1/openapi.json
bp = Blueprint("api", __name__, url_prefix="/api/v1")
#: 系统管理 › API 令牌
admin_bp = Blueprint("api_admin", __name__, url_prefix="/admin/api-tokens")

from portal.api import views  # noqa: E402,F401
