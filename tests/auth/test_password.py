"""Changing one's own password, and the forced change after an administrator reset."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.auth.helpers import field_errors
from tests.helpers import DEFAULT_PASSWORD, HX, translated

NEW = "Neues-Passw0rt"


def change(client, current=DEFAULT_PASSWORD, new=NEW, confirm=None, **kwargs):
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm": new if confirm is None else confirm},
        **kwargs,
    )


@pytest.fixture
def user(make_user):
    return make_user("pwuser")


@pytest.fixture
def user_client(client, user, login):
    login(client, user)
    return client


def test_form_is_shown(user_client):
    response = user_client.get("/account/password")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("current_password", "new_password", "confirm"):
        assert f'name="{name}"' in html
    assert 'autocomplete="new-password"' in html


@pytest.mark.parametrize(
    "current, new, confirm, field, message, variables",
    [
        ("Wrong-passw0rd", NEW, None, "current_password", "The current password is wrong.", {}),
        (DEFAULT_PASSWORD, "Ab1", None, "new_password", "The password must have at least %(n)d characters.", {"n": 8}),
        (DEFAULT_PASSWORD, "abcdefghijkl", None, "new_password", "The password must contain both letters and digits.", {}),
        (DEFAULT_PASSWORD, "1234567890123", None, "new_password", "The password must contain both letters and digits.", {}),
        (DEFAULT_PASSWORD, NEW, NEW + "x", "confirm", "The two passwords differ.", {}),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, None, "new_password", "The new password must differ from the current one.", {}),
        (DEFAULT_PASSWORD, "12345678", None, "new_password", "This password is too easy to guess.", {}),
        (DEFAULT_PASSWORD, "a1" * 65, None, "new_password", None, {}),  # longer than 128
    ],
)
def test_invalid_changes_are_refused(app, user_client, user, current, new, confirm, field, message, variables):
    nonce = user.session_nonce
    password_hash = user.password_hash
    response = change(user_client, current, new, confirm)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}"' in html and "is-invalid" in html
    errors = field_errors(response)
    assert errors
    if message:
        assert translated(app, message, **variables) in errors
    db.session.refresh(user)
    assert user.session_nonce == nonce and user.password_hash == password_hash
    assert db.session.query(AuditEvent).filter_by(action="auth.password_changed").count() == 0
    assert user_client.get("/").status_code == 200  # still logged in


def test_username_as_password_is_too_easy(app, client, make_user, login):
    user = make_user("longusername1")
    login(client, user)
    response = change(client, new="LongUserName1")
    assert response.status_code == 422
    assert translated(app, "This password is too easy to guess.") in field_errors(response)


def test_empty_fields_are_refused(user_client):
    response = change(user_client, current="", new="", confirm="")
    assert response.status_code == 422
    assert len(field_errors(response)) == 3


def test_htmx_error_returns_the_form_fragment(user_client):
    response = change(user_client, current="Wrong-passw0rd", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html and html.lstrip().startswith("<form")


def test_success_rotates_the_nonce_and_logs_out_other_sessions(app, user, user_client, login):
    other = app.test_client()
    login(other, user)
    assert other.get("/").status_code == 200
    old_nonce = user.session_nonce
    response = change(user_client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    db.session.refresh(user)
    assert user.session_nonce != old_nonce
    assert user.password_changed_at is not None
    # the other browser is logged out, this one is not
    kicked = other.get("/")
    assert kicked.status_code == 302 and kicked.headers["Location"].startswith("/login")
    assert user_client.get("/").status_code == 200
    with user_client.session_transaction() as session:
        assert session["_user_id"].startswith(f"{user.id}:{user.session_nonce}:")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.password_changed")).one()
    assert event.actor_id == user.id and event.object_id == str(user.id)
    assert "hash" not in str(event.summary).lower() and NEW not in str(event.summary)


def test_new_password_works_and_old_does_not(app, user, user_client):
    assert change(user_client).status_code == 303
    user_client.post("/logout")
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD}).status_code == 422
    assert fresh.post("/login", data={"username": user.username, "password": NEW}).status_code == 303


def test_htmx_success_gets_hx_redirect(user_client):
    response = change(user_client, headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


def test_anonymous_cannot_change_a_password(client):
    response = client.post("/account/password", data={"current_password": "x", "new_password": NEW, "confirm": NEW})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# -- forced change --------------------------------------------------------------------------------
@pytest.fixture
def forced(make_user):
    from portal.core.roles import ADMIN

    # an administrator: every page of the portal is open to them, so every page must redirect
    return make_user("forced", roles=(ADMIN,), must_change_password=True)


@pytest.fixture
def forced_client(client, forced, login):
    response = login(client, forced)
    assert response.headers["Location"] == "/"
    return client


def _endpoint_urls(app):
    from flask import url_for

    from portal.web.access import is_public_endpoint, is_token_endpoint

    with app.test_request_context("/"):
        for rule in app.url_map.iter_rules():
            # Public pages (the allowlist in tests/web/test_access.py) and token-authenticated API routes have
            # no login session to force a password change on.
            if (is_public_endpoint(rule.endpoint) or is_token_endpoint(rule.endpoint)
                    or rule.endpoint in {"auth.change_password", "auth.logout"}):
                continue
            url = url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, url


def test_forced_change_redirects_every_page(app, forced_client):
    token = forced_client.csrf_token()
    checked, wrong = 0, []
    for endpoint, method, url in _endpoint_urls(app):
        response = forced_client.open(url, method=method, headers={"X-CSRFToken": token})
        if response.status_code != 303 or response.headers.get("Location") != "/account/password":
            wrong.append((endpoint, method, url, response.status_code, response.headers.get("Location")))
        checked += 1
    assert checked >= 10
    assert not wrong, wrong


def test_forced_change_gives_htmx_requests_hx_redirect(app, forced_client):
    token = forced_client.csrf_token()
    wrong = []
    for endpoint, method, url in _endpoint_urls(app):
        response = forced_client.open(url, method=method, headers={**HX, "X-CSRFToken": token})
        if response.status_code != 204 or response.headers.get("HX-Redirect") != "/account/password":
            wrong.append((endpoint, method, url, response.status_code, dict(response.headers)))
    assert not wrong, wrong


def test_forced_change_page_explains_itself(app, forced_client):
    response = forced_client.get("/account/password")
    assert response.status_code == 200
    assert translated(app, "Please replace your initial password before you continue.") in response.get_data(as_text=True)


def test_forced_user_can_still_log_out_and_use_public_pages(forced_client):
    assert forced_client.get("/healthz").status_code in (200, 503)
    assert forced_client.get("/static/js/portal.js").status_code == 200
    assert forced_client.get("/favicon.ico").status_code == 200
    response = forced_client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_changing_the_password_lifts_the_redirect(forced, forced_client):
    assert forced_client.get("/").status_code == 303
    assert change(forced_client).status_code == 303
    db.session.refresh(forced)
    assert forced.must_change_password is False
    assert forced_client.get("/").status_code == 200
    assert forced_client.get("/admin/audit/").status_code == 200
