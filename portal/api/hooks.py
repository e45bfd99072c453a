"""What the API plugs in: the OpenAPI document, the token page under 系统管理, and for every domain's API
blueprint (``portal.api.blueprints``) the CSRF exemption and problem-details errors."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.api import admin_bp, audit_trail, bp
from portal.api.blueprints import api_blueprints, register_api_blueprint
from portal.api.problems import render_status
from portal.core.roles import ADMIN
from portal.web.errors import register_error_renderer
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp, admin_bp)


def setup() -> None:
    audit_trail.register()
    register_api_blueprint(bp)
    register_nav(NavEntry(_l("API tokens"), "api_admin.tokens", (ADMIN,), "admin"), order=60)


def init_app(app) -> None:
    from portal.extensions import csrf

    for blueprint in api_blueprints:
        csrf.exempt(blueprint)
        register_error_renderer(blueprint.name, render_status)
    register_error_renderer("", render_status, path_prefix="/api/")
