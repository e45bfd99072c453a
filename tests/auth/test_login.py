from portal.auth.models import LoginAttempt
from portal.extensions import db
from tests.conftest import DEFAULT_PASSWORD, HX


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
