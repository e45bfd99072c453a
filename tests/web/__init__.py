"""Tests of the web layer: security headers, access rules, error pages, /healthz, configuration, i18n.

``separate_app`` builds a second portal application for the tests that must register a route or change
configuration before that application's first request (the session-wide ``app`` fixture has long served
its first request). The portal's extensions are process-wide objects and ``init_app`` rebinds some of
their state to the newest application, so the helper restores that state afterwards; otherwise the
tests that follow would talk to the second application's Redis (see the report about ``RQ.init_app``).

A test whose separate application reaches its own database must be marked ``committing``: outside such
tests ``db.session`` is bound to the session application's test connection, whatever the application.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def separate_app(tmp_path: Path, config: str = "test", *, create_tables: bool = False, **overrides):
    from portal import create_app
    from portal.extensions import db, limiter, rq
    from tests.helpers import PortalClient

    saved_rq = dict(vars(rq))
    saved_limiter_enabled = limiter.enabled
    rq._connection = None  # RQ.init_app keeps the connection made for an earlier application
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'separate.db'}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        # Flask-Limiter's ``enabled`` is process-wide: never switch it on for the other tests.
        "RATELIMIT_ENABLED": False,
    }
    settings.update(overrides)
    app = None
    try:
        app = create_app(config, overrides=settings)
        app.test_client_class = PortalClient
        if create_tables:
            with app.app_context():
                db.create_all()
        yield app
    finally:
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        vars(rq).clear()
        vars(rq).update(saved_rq)
        limiter.enabled = saved_limiter_enabled
