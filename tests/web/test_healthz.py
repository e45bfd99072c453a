"""/healthz: JSON with the database, Redis and version; 503 when the database is down."""
from __future__ import annotations

import pytest

from portal import __version__
from tests.web import separate_app

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/none"
CLOSED_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_reports_ok(client, redis_url):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["version"] == __version__
    assert body["status"] == "ok"
    assert body["redis_mode"] == "external"


def test_healthz_needs_no_login_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)
    assert not any(c.startswith("session=") for c in response.headers.getlist("Set-Cookie"))


def test_healthz_for_a_logged_in_user(client, make_user, login, redis_url):
    login(client, make_user())
    assert client.get("/healthz").get_json()["database"] == "ok"


@pytest.mark.committing
def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, redis_url):
    with separate_app(tmp_path, SQLALCHEMY_DATABASE_URI=UNREACHABLE_DB) as down:
        response = down.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["database"] == "error"
        assert body["status"] == "error"
        assert body["redis"] == "ok"
        assert body["version"] == __version__
        # nothing of the driver's error message leaks out
        assert "127.0.0.1" not in response.get_data(as_text=True)


@pytest.mark.committing
def test_healthz_reports_redis_error_on_a_closed_port(tmp_path):
    with separate_app(tmp_path, create_tables=True, REDIS_URL=CLOSED_REDIS) as no_redis:
        response = no_redis.test_client().get("/healthz")
        body = response.get_json()
        assert body["redis"] == "error"
        assert body["database"] == "ok"
        assert response.status_code == 200  # the portal still serves pages without Redis
        assert body["status"] == "degraded"


@pytest.mark.committing
def test_healthz_with_everything_down(tmp_path):
    with separate_app(tmp_path, SQLALCHEMY_DATABASE_URI=UNREACHABLE_DB, REDIS_URL=CLOSED_REDIS) as down:
        response = down.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert (body["database"], body["redis"], body["status"]) == ("error", "error", "error")


def test_separate_apps_leave_the_session_apps_redis_alone(tmp_path, client, redis_url):
    with separate_app(tmp_path, REDIS_URL=CLOSED_REDIS):
        pass
    assert client.get("/healthz").get_json()["redis"] == "ok"
