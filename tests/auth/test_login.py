import pytest
import sqlalchemy as sa
from markupsafe import escape

from portal.audit.models import AuditEvent
from portal.auth.models import LoginAttempt
from portal.core.roles import ADMIN, EMPLOYEE
from portal.extensions import db
from portal.org.models import User
from tests.auth.helpers import field_errors, form_error
from tests.helpers import DEFAULT_PASSWORD, HX


def test_login_page_is_chinese_by_default(client):
    response = client.get("/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert 'name="username"' in html and 'name="password"' in html


def test_login_and_logout(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_wrong_password_counts_and_gives_generic_message(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": "wrong"})
    assert response.status_code == 422
    assert db.session.query(LoginAttempt).filter_by(username=user.username, success=False).count() == 1


def test_htmx_request_without_session_gets_hx_redirect(client):
    response = client.get("/admin/org/users", headers={**HX, "HX-Current-URL": "http://localhost/admin/org/users?q=x"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert response.headers["HX-Redirect"] == "/login?next=/admin/org/users?q%3Dx"


# -- helpers --------------------------------------------------------------------------------------
def post_login(client, username, password, next_=None, **kwargs):
    data = {"username": username, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data, **kwargs)


# -- next -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/admin/audit/", "/admin/audit/?action=auth.&actor=%E6%B5%8B", "/account/password"])
def test_relative_next_is_followed(client, make_user, target):
    user = make_user()
    response = post_login(client, user.username, DEFAULT_PASSWORD, next_=target)
    assert response.status_code == 303
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "http://evil.example",
        "https://evil.example/login",
        "//evil",
        "//evil.example/path",
        "///evil.example",
        "/\\evil",
        "/\\/evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "https:evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "evil.example",
        " //evil.example",
        "",
    ],
)
def test_unsafe_next_falls_back_to_home(client, make_user, target):
    user = make_user()
    response = post_login(client, user.username, DEFAULT_PASSWORD, next_=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_unsafe_next_is_refused_for_htmx_logins_too(client, make_user):
    user = make_user()
    response = post_login(client, user.username, DEFAULT_PASSWORD, next_="//evil.example", headers=HX)
    assert response.headers["HX-Redirect"] == "/"


def test_next_from_the_query_string_is_carried_by_the_form(client, make_user):
    redirect = client.get("/admin/audit/?action=auth.login")
    assert redirect.status_code == 302
    login_url = redirect.headers["Location"]
    assert login_url.startswith("/login?next=")
    page = client.get(login_url)
    assert page.status_code == 200
    assert 'name="next" type="hidden" value="/admin/audit/?action=auth.login"' in page.get_data(as_text=True)


def test_hostile_next_in_the_query_string_is_escaped_and_not_followed(client, make_user):
    page = client.get('/login?next="><script>alert(1)</script>')
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    user = make_user()
    response = post_login(client, user.username, DEFAULT_PASSWORD, next_='"><script>alert(1)</script>')
    assert response.headers["Location"] == "/"


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "username, password",
    [("", ""), ("", DEFAULT_PASSWORD), ("someone", ""), ("   ", "   ")],
)
def test_empty_fields_give_form_errors(client, username, password):
    response = post_login(client, username, password)
    assert response.status_code == 422
    assert field_errors(response), "an empty field must be marked"
    assert "is-invalid" in response.get_data(as_text=True)
    assert db.session.query(LoginAttempt).count() == 0  # the form refused it before authentication


@pytest.mark.parametrize("field", ["username", "password"])
def test_ten_thousand_characters_give_a_form_error(client, make_user, field):
    user = make_user()
    data = {"username": user.username, "password": DEFAULT_PASSWORD}
    data[field] = "x" * 10_000
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert len(field_errors(response)) == 1  # "too long" on that field only
    assert 'id="%s"' % field in response.get_data(as_text=True)
    assert not client.logged_in()
    assert db.session.query(LoginAttempt).count() == 0


def test_long_password_is_not_echoed(client, make_user):
    user = make_user()
    response = post_login(client, user.username, "secret-" + "y" * 9_993)
    assert response.status_code == 422
    assert "secret-yyy" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "username, password",
    [
        ("<script>alert(1)</script>", "x"),
        ('"><img src=x onerror=alert(1)>', "<script>alert(2)</script>"),
        ("'; DROP TABLE user; --", "x"),
        ("admin' OR '1'='1", "' OR '1'='1"),
        ("admin_t", "' OR 1=1; --"),
    ],
)
def test_hostile_input_gives_the_generic_error_and_is_escaped(client, admin, username, password):
    response = post_login(client, username, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert form_error(response) or field_errors(response)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert not client.logged_in()
    # the tables are all still there, and the admin can still log in
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) >= 1
    assert post_login(client, admin.username, DEFAULT_PASSWORD).status_code == 303


def test_html_in_the_username_is_shown_escaped(client):
    response = post_login(client, "<script>alert(1)</script>", "x")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in html
    assert str(escape("<script>alert(1)</script>")) in html  # echoed in the username field, escaped


def test_sql_in_the_username_is_just_a_wrong_username(client):
    response = post_login(client, "'; DROP TABLE user; --", "x")
    assert response.status_code == 422
    assert form_error(response)
    attempt = db.session.query(LoginAttempt).one()
    assert attempt.username == "'; drop table user; --" and attempt.success is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0  # the table is still there


def test_generic_message_is_identical_for_wrong_password_unknown_user_and_deactivated_user(client, make_user):
    active = make_user()
    inactive = make_user(active=False)
    wrong_password = post_login(client, active.username, "Wrong-passw0rd")
    unknown = post_login(client, "nobody-here", DEFAULT_PASSWORD)
    deactivated = post_login(client, inactive.username, DEFAULT_PASSWORD)  # the right password
    messages = {form_error(r) for r in (wrong_password, unknown, deactivated)}
    assert {r.status_code for r in (wrong_password, unknown, deactivated)} == {422}
    assert len(messages) == 1 and "" not in messages, messages
    assert not client.logged_in()
    for response in (wrong_password, unknown, deactivated):
        assert field_errors(response) == []  # no field is singled out either


def test_username_is_case_and_space_insensitive(client, make_user):
    user = make_user("casey")
    response = post_login(client, "  CaSey ", DEFAULT_PASSWORD)
    assert response.status_code == 303
    assert client.logged_in()


@pytest.mark.parametrize("roles, url", [((EMPLOYEE,), "/"), ((ADMIN,), "/admin/audit/")], ids=["employee", "admin"])
def test_deactivated_users_session_ends(client, make_user, login, roles, url):
    """The next request of a deactivated user, an administrator's on an admin page too, goes to the login page."""
    user = make_user(roles=roles)
    login(client, user)
    assert client.get(url).status_code == 200
    user.active = False
    db.session.flush()
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logged_in_user_visiting_login_goes_home(client, make_user, login):
    login(client, make_user())
    response = client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


# -- session --------------------------------------------------------------------------------------
def test_session_is_rotated_on_login(client, make_user):
    user = make_user()
    old_token = client.csrf_token()
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
        session["lang"] = "en"
        before = dict(session)
    assert before["csrf_token"]
    response = post_login(client, user.username, DEFAULT_PASSWORD, headers={"X-CSRFToken": old_token}, csrf=False)
    assert response.status_code == 303
    with client.session_transaction() as session:
        after = dict(session)
    assert "planted" not in after  # nothing of the pre-login session survives ...
    assert after.get("csrf_token") != before["csrf_token"]
    assert after["lang"] == "en"  # ... but the chosen language
    assert after["_user_id"].startswith(f"{user.id}:{user.session_nonce}:")  # id:nonce:this login's token
    # the CSRF token of the anonymous session is worthless now
    stale = client.post("/logout", headers={"X-CSRFToken": old_token}, csrf=False)
    assert stale.status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_session_cookie_changes_on_login(client, make_user):
    user = make_user()
    client.get("/login")
    before = client.get_cookie("session").value
    post_login(client, user.username, DEFAULT_PASSWORD)
    after = client.get_cookie("session").value
    assert before != after


def test_htmx_login_gets_hx_redirect(client, make_user):
    user = make_user()
    response = post_login(client, user.username, DEFAULT_PASSWORD, next_="/admin/audit/", headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/admin/audit/"
    assert "Location" not in response.headers
    assert client.logged_in()


def test_htmx_login_failure_returns_the_form_fragment(client, make_user):
    user = make_user()
    response = post_login(client, user.username, "wrong", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html
    assert html.lstrip().startswith("<form") and 'id="login-form"' in html
    assert form_error(response)


def test_successful_login_is_recorded(client, make_user):
    user = make_user()
    post_login(client, user.username, DEFAULT_PASSWORD)
    db.session.refresh(user)
    assert user.last_login_at is not None
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert event.actor_id == user.id and event.object_id == str(user.id) and event.ip == "127.0.0.1"
    assert db.session.query(LoginAttempt).filter_by(username=user.username, success=True).count() == 1


def test_logout_needs_post_and_is_recorded(client, make_user, login):
    user = make_user()
    login(client, user)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert db.session.query(AuditEvent).filter_by(action="auth.logout", actor_id=user.id).count() == 1
    assert not client.logged_in()


@pytest.mark.parametrize("username, password", [("用户\x00名", "x"), ("admin_t", "pass\x00word")])
def test_nul_bytes_are_refused_not_a_server_error(client, admin, username, password):
    """PostgreSQL cannot store NUL in text: such input must be refused as malformed, never end as a 500."""
    response = post_login(client, username, password)
    assert response.status_code == 400
    assert 'data-status="400"' in response.get_data(as_text=True)
    assert not client.logged_in()
    assert post_login(client, admin.username, DEFAULT_PASSWORD).status_code == 303
