"""Error pages: full pages for plain requests, fragments for htmx, JSON when asked; 500 rolls back."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from portal.auth.models import LoginAttempt
from portal.extensions import db
from portal.web.access import public
from tests.helpers import HX, translated
from tests.web import separate_app


def test_404_is_a_full_page(app, client):
    response = client.get("/no/such/page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert html.lstrip().startswith("<!doctype html>") and "<html" in html
    assert 'data-status="404"' in html
    assert translated(app, "The page or record was not found.") in html


def test_404_for_htmx_is_a_fragment(app, client):
    response = client.get("/no/such/page", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<html" not in html and "<body" not in html
    assert html.lstrip().startswith('<div class="alert alert-danger error-page"')
    assert translated(app, "The page or record was not found.") in html


def test_404_for_a_logged_in_user_keeps_the_navigation(client, make_user, login):
    user = make_user()
    login(client, user)
    html = client.get("/no/such/page").get_data(as_text=True)
    assert user.display_name in html and 'id="logout-button"' in html


def test_boosted_htmx_navigation_gets_the_full_page(client):
    response = client.get("/no/such/page", headers={**HX, "HX-Boosted": "true"})
    assert response.status_code == 404 and "<html" in response.get_data(as_text=True)


def test_json_clients_get_json_errors(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"] == 404
    assert response.get_json()["message"]


def test_405(app, client, make_user, login):
    login(client, make_user())
    response = client.get("/logout")
    assert response.status_code == 405
    assert 'data-status="405"' in response.get_data(as_text=True)
    assert translated(app, "This action is not allowed here.") in response.get_data(as_text=True)


def test_healthz_errors_are_json(client):
    response = client.post("/healthz", csrf=False)
    assert response.status_code in (400, 405)
    assert response.is_json


def test_413_on_a_too_large_upload(app, client, make_user, login, monkeypatch):
    from portal.core.roles import ADMIN

    login(client, make_user(roles=(ADMIN,)))
    token = client.csrf_token()
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    data = {"file": (io.BytesIO(b"a,b\n" * (600 * 1024)), "roster.csv"), "csrf_token": token}
    response = client.post("/admin/org/roster", data=data, content_type="multipart/form-data", csrf=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "<html" in html and 'data-status="413"' in html
    assert translated(app, "The upload is too large (at most %(mb)d MB).", mb=1) in html


def test_413_for_htmx_is_a_fragment(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = client.post("/login", data={"username": "x" * (2 * 1024 * 1024), "password": "y"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "<html" not in html and 'data-status="413"' in html


def test_413_in_a_separately_built_app(tmp_path):
    with separate_app(tmp_path, MAX_CONTENT_LENGTH=2 * 1024 * 1024, WTF_CSRF_ENABLED=False) as small:
        client = small.test_client()
        response = client.post("/login", data={"username": "u", "password": "p" * (3 * 1024 * 1024)})
        assert response.status_code == 413
        with small.test_request_context("/"):
            from flask_babel import gettext

            assert gettext("The upload is too large (at most %(mb)d MB).", mb=2) in response.get_data(as_text=True)
        small_enough = client.post("/login", data={"username": "", "password": "p" * 1024})
        assert small_enough.status_code == 422  # parsed and validated as usual


# -- 500 ------------------------------------------------------------------------------------------
@pytest.fixture
def boom_app(tmp_path):
    """An app with routes that write to the database and then fail (added before its first request)."""
    with separate_app(tmp_path, create_tables=True) as boom:
        seen = {}

        @boom.route("/boom")
        @public
        def explode():
            db.session.add(LoginAttempt(username="written-before-the-crash", ip="192.0.2.1", success=False))
            db.session.flush()
            raise RuntimeError("boom")

        @boom.route("/boom-sql")
        @public
        def bad_sql():
            db.session.add(LoginAttempt(username="written-before-the-crash", ip="192.0.2.2", success=False))
            db.session.flush()
            db.session.execute(sa.text("SELECT * FROM no_such_table"))
            return "unreachable"

        @boom.after_request
        def look_inside(response):
            # what the request's own session still sees once the error handler has run
            if response.status_code == 500:
                seen["rows"] = db.session.scalar(
                    sa.select(sa.func.count()).select_from(LoginAttempt)
                    .where(LoginAttempt.username == "written-before-the-crash")
                )
            return response

        boom.seen = seen
        yield boom


def _committed_rows(app) -> int:
    with app.app_context():
        with db.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM login_attempt WHERE username = 'written-before-the-crash'"))


@pytest.mark.committing
@pytest.mark.parametrize("path", ["/boom", "/boom-sql"])
def test_500_page_and_rollback(boom_app, path, caplog):
    client = boom_app.test_client()
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<html" in html and 'data-status="500"' in html
    assert "RuntimeError" not in html and "Traceback" not in html and "no_such_table" not in html
    assert boom_app.seen["rows"] == 0, "the error handler must roll the request's transaction back"
    assert _committed_rows(boom_app) == 0
    assert any("unhandled error" in record.getMessage() for record in caplog.records)
    # the application is still healthy afterwards
    assert client.get("/login").status_code == 200


@pytest.mark.committing
def test_500_for_htmx_is_a_fragment(boom_app):
    response = boom_app.test_client().get("/boom", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<html" not in html and 'data-status="500"' in html
    with boom_app.test_request_context("/"):
        from flask_babel import gettext

        assert gettext("Something went wrong on our side. The error has been logged.") in html


@pytest.mark.committing
def test_500_carries_the_security_headers(boom_app):
    response = boom_app.test_client().get("/boom")
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
