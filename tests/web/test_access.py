"""Default-deny: every endpoint needs a login unless it is on the public allowlist; admin areas need roles.

The URL map is walked, so an endpoint added later is covered without touching this file.
"""
from __future__ import annotations

import pytest
from flask import url_for

from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.web.access import is_public_endpoint, is_token_endpoint
from tests.helpers import HX

#: Who may open a page without logging in is a security decision: each entry here was added on purpose.
#: The customers' kiosk form and 查询码 pages (issue 10) and the API's OpenAPI document are public by design.
PUBLIC_ALLOWLIST = {"static", "auth.login", "auth.login_submit", "web.healthz", "web.set_language", "web.favicon",
                    "kiosk.form", "kiosk.lookup", "kiosk.query", "kiosk.rate", "api.openapi"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def needs_login(rule) -> bool:
    """Everything but the public allowlist and the API's token-authenticated routes (tested below)."""
    return rule.endpoint not in PUBLIC_ALLOWLIST and not is_token_endpoint(rule.endpoint)


def requests_for(app, predicate=lambda rule: True):
    """(endpoint, method, url) for every rule accepted by ``predicate``, with 1 for every URL argument."""
    out = []
    with app.test_request_context("/"):
        for rule in app.url_map.iter_rules():
            if not predicate(rule):
                continue
            url = url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})
            for method in sorted(rule.methods - SKIPPED_METHODS):
                out.append((rule.endpoint, method, url))
    return out


def call(client, method, url, token, **headers):
    return client.open(url, method=method, headers={"X-CSRFToken": token, **headers})


def test_public_endpoints_are_exactly_the_allowlist(app):
    public = {rule.endpoint for rule in app.url_map.iter_rules() if is_public_endpoint(rule.endpoint)}
    assert public == PUBLIC_ALLOWLIST


def test_the_url_map_is_not_trivially_small(app):
    protected = requests_for(app, needs_login)
    endpoints = {endpoint for endpoint, _m, _u in protected}
    assert {"home.index", "auth.logout", "auth.change_password", "audit.index", "audit.export", "org.users"} <= endpoints
    assert any(method == "POST" for _e, method, _u in protected)


def test_anonymous_users_are_sent_to_login(app, client):
    token = client.csrf_token()  # so that POSTs fail for the missing login, not for CSRF
    wrong = []
    for endpoint, method, url in requests_for(app, needs_login):
        response = call(client, method, url, token)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith("/login?next="):
            wrong.append((endpoint, method, url, response.status_code, location))
    assert not wrong, wrong


def test_anonymous_get_remembers_where_it_was_going(app, client):
    for endpoint, method, url in requests_for(app, needs_login):
        if method == "GET":
            response = client.get(url)
            assert response.headers["Location"] == f"/login?next={url}", endpoint


def test_anonymous_htmx_requests_get_401_and_hx_redirect(app, client):
    token = client.csrf_token()
    wrong = []
    for endpoint, method, url in requests_for(app, needs_login):
        response = call(client, method, url, token, **HX, **{"HX-Current-URL": f"http://localhost{url}"})
        hx_redirect = response.headers.get("HX-Redirect", "")
        if response.status_code != 401 or not hx_redirect.startswith("/login") or response.get_data():
            wrong.append((endpoint, method, url, response.status_code, hx_redirect))
    assert not wrong, wrong


def _token_rules(rule):
    return is_token_endpoint(rule.endpoint)


def test_token_endpoints_live_under_the_api_and_refuse_anyone_without_a_token(app, client, make_user, login):
    requests = requests_for(app, _token_rules)
    assert requests, "the API has token-authenticated routes"
    wrong = []
    for endpoint, method, url in requests:
        if not url.startswith("/api/"):
            wrong.append((endpoint, url, "outside /api/"))
        for headers in ({}, {"Authorization": "Bearer sqp_not-a-real-token"}, {"Authorization": "Basic YTpi"}):
            response = client.open(url, method=method, headers=headers, json={})
            if (response.status_code != 401 or response.mimetype != "application/problem+json"
                    or response.get_json().get("status") != 401):
                wrong.append((endpoint, method, url, headers, response.status_code, response.mimetype))
    # A login session is not a token: a logged-in administrator's cookie opens no API route.
    login(client, make_user(roles=(ADMIN,)))
    for endpoint, method, url in requests:
        response = client.open(url, method=method, json={})
        if response.status_code != 401:
            wrong.append((endpoint, method, url, "logged in", response.status_code))
    assert not wrong, wrong


def test_hx_redirect_keeps_only_the_path_of_the_current_url(client):
    response = client.get("/", headers={**HX, "HX-Current-URL": "https://evil.example/admin/audit/?x=1"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/admin/audit/?x%3D1"


def test_public_endpoints_need_no_login(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/static/css/portal.css").status_code == 200
    assert client.post("/language", data={"lang": "en"}).status_code == 303


# -- roles ----------------------------------------------------------------------------------------
def _org_rules(rule):
    return rule.rule.startswith("/admin/org")


@pytest.mark.parametrize("roles", [(EMPLOYEE,), (DEPT_HEAD,), (QUALITY_MANAGER,), (EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER)])
def test_org_administration_refuses_non_admins(app, client, make_user, login, roles):
    login(client, make_user(roles=roles))
    token = client.csrf_token()
    requests = requests_for(app, _org_rules)
    assert len(requests) >= 10
    wrong = []
    for endpoint, method, url in requests:
        for headers in ({}, HX):
            response = call(client, method, url, token, **headers)
            if response.status_code != 403:
                wrong.append((endpoint, method, url, bool(headers), response.status_code))
    assert not wrong, wrong
    assert client.get("/").status_code == 200  # still logged in, just not allowed there


def test_org_administration_is_open_to_admins(app, client, make_user, login):
    login(client, make_user(roles=(ADMIN,)))
    wrong = []
    for endpoint, method, url in requests_for(app, _org_rules):
        if method != "GET":
            continue
        response = client.get(url)
        if response.status_code in (302, 401, 403) or response.status_code >= 500:
            wrong.append((endpoint, url, response.status_code))
    assert not wrong, wrong


def test_403_page_and_fragment(client, make_user, login):
    login(client, make_user())
    page = client.get("/admin/org/users")
    assert page.status_code == 403 and "<html" in page.get_data(as_text=True)
    fragment = client.get("/admin/org/users", headers=HX)
    assert fragment.status_code == 403 and "<html" not in fragment.get_data(as_text=True)
    assert 'data-status="403"' in fragment.get_data(as_text=True)


@pytest.mark.parametrize("roles", [(ADMIN,), (QUALITY_MANAGER,), (EMPLOYEE, QUALITY_MANAGER)])
def test_audit_trail_is_open_to_admins_and_quality_managers(client, make_user, login, roles):
    login(client, make_user(roles=roles))
    assert client.get("/admin/audit/").status_code == 200
    assert client.get("/admin/audit/", headers=HX).status_code == 200
    export = client.get("/admin/audit/export.xlsx")
    assert export.status_code == 200
    assert export.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize("roles", [(EMPLOYEE,), (DEPT_HEAD,), (EMPLOYEE, DEPT_HEAD)])
def test_audit_trail_refuses_employees_and_department_heads(app, client, make_user, login, roles):
    login(client, make_user(roles=roles))
    for endpoint, method, url in requests_for(app, lambda rule: rule.rule.startswith("/admin/audit")):
        assert client.open(url, method=method).status_code == 403, endpoint
        assert client.open(url, method=method, headers=HX).status_code == 403, endpoint


def test_navigation_shows_only_what_the_role_may_open(client, make_user, login):
    login(client, make_user(roles=(QUALITY_MANAGER,)))
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/audit/"' in html
    assert 'href="/admin/org/users"' not in html
    client.post("/logout")
    login(client, make_user(roles=(EMPLOYEE,)))
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/audit/"' not in html and 'href="/admin/org/' not in html
