"""Configuration: production refuses an unsafe SECRET_KEY and sets secure cookies."""
from __future__ import annotations

import pytest

import config
from config import DEV_SECRET_KEY
from portal import create_app
from tests.web import separate_app

STRONG_KEY = "0123456789abcdef0123456789abcdef-strong"


@pytest.fixture
def production_env(monkeypatch):
    """Leave ProductionConfig as it was, whatever create_app does to it."""
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", config.ProductionConfig.SECRET_KEY)
    monkeypatch.setattr(config.ProductionConfig, "PORTAL_AUDIT_KEY", config.ProductionConfig.PORTAL_AUDIT_KEY)
    monkeypatch.setenv("PORTAL_AUDIT_KEY", "audit-key-" + "0" * 40)  # tests/audit/test_audit_key.py: without one
    return monkeypatch


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY, "short-key", "x" * 15])
def test_production_refuses_a_missing_default_or_short_secret_key(production_env, tmp_path, key):
    if key is None:
        production_env.delenv("SECRET_KEY", raising=False)
    else:
        production_env.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError) as excinfo:
        create_app("production", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
    message = str(excinfo.value)
    assert "SECRET_KEY" in message
    assert "\n" not in message  # one line, fit for a systemd journal
    if key:
        assert key not in message  # the refused key is not printed


def test_production_starts_with_a_strong_key(production_env, tmp_path):
    production_env.setenv("SECRET_KEY", STRONG_KEY)
    with separate_app(tmp_path, "production") as prod:
        assert prod.config["ENV_NAME"] == "production"
        assert prod.config["SECRET_KEY"] == STRONG_KEY  # the key that was checked is the key in use
        assert prod.config["DEBUG"] is False and prod.config["TESTING"] is False
        assert prod.config["SESSION_COOKIE_SECURE"] is True
        assert prod.config["REMEMBER_COOKIE_SECURE"] is True
        assert prod.config["SESSION_COOKIE_HTTPONLY"] is True
        assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert prod.config["WTF_CSRF_ENABLED"] is not False
        response = prod.test_client().get("/login")
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_trusts_one_proxy_by_default(production_env, tmp_path):
    production_env.setenv("SECRET_KEY", STRONG_KEY)
    with separate_app(tmp_path, "production") as prod:
        seen = {}

        @prod.route("/_ip")
        def _ip():
            from portal.core.net import client_ip

            seen["ip"] = client_ip()
            return ""

        from portal.web.access import public

        public(prod.view_functions["_ip"])
        prod.test_client().get("/_ip", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert seen["ip"] == "203.0.113.9"


def test_seed_demo_refuses_to_run_in_production(production_env, tmp_path):
    production_env.setenv("SECRET_KEY", STRONG_KEY)
    with separate_app(tmp_path, "production") as prod:
        with prod.app_context():  # the CLI runs in the innermost app context: the test's is the test app's
            result = prod.test_cli_runner().invoke(args=["portal", "seed-demo"])
        assert result.exit_code == 1
        assert "refuses to run in production" in (result.output + getattr(result, "stderr", ""))


def test_unknown_configuration_name_is_refused():
    with pytest.raises(RuntimeError, match="unknown PORTAL_CONFIG"):
        create_app("staging")


def test_test_configuration(app):
    assert app.config["TESTING"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh_Hans_CN"
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert app.config["MAX_CONTENT_LENGTH"] == (20 + 5) * 1024 * 1024  # a document file plus the form around it


def test_development_configuration_uses_the_development_key(tmp_path):
    with separate_app(tmp_path, "development") as dev:
        assert dev.config["ENV_NAME"] == "development"
        assert dev.config["SESSION_COOKIE_SECURE"] is False
        assert dev.config["DEBUG"] is False
