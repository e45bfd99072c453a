"""API blueprints: every domain that serves ``/api/v1`` routes makes its blueprint with
:func:`api_blueprint` and lists it in its hooks' ``BLUEPRINTS``; the api domain's ``init_app`` exempts them
from the CSRF check (they are authenticated by a bearer token, never by a cookie) and answers their errors
as problem details."""
from __future__ import annotations

from flask import Blueprint

from portal.core.registry import Registry

URL_PREFIX = "/api/v1"

api_blueprints: Registry[Blueprint] = Registry("api blueprints")


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under ``/api/v1`` (its views use ``@token_required``). Registered in the registry when the
    domain's ``setup()`` calls :func:`register_api_blueprint`."""
    return Blueprint(name, import_name, url_prefix=URL_PREFIX)


def register_api_blueprint(bp: Blueprint) -> Blueprint:
    return api_blueprints.register(bp.name, bp)
