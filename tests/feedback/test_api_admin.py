"""Provisioning API tokens: the administrators' page (系统管理 › API 令牌: issue, shown once, revoke; plain and
htmx; other roles refused) and the command line (``portal api-token create/list/revoke``, ``portal kiosk-url``)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.api.models import ApiToken
from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.extensions import db
from portal.feedback.models import Feedback
from tests.feedback.api_helpers import assert_problem, bearer, issue_token, post_feedback
from tests.feedback.helpers import kiosk_path, make_point, make_staff_code
from tests.helpers import (HX, assert_full_page, assert_page, assert_partial, audit, count, create_department,
                           create_user, field_has_error, flashes, plain, reloaded, text)

URL = "/admin/api-tokens/"
TOKEN_RE = re.compile(r'<code[^>]*>(sqp_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def point():
    return make_point("KF01", create_department("客服部"))


def _shown_token(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "no token on the page"
    return match.group(1)


def _issue(client, name="一号评价器", scopes=("read", "write"), headers=None):
    return client.post(URL, data={"name": name, "scopes": list(scopes)}, headers=headers or {})


# -- the page -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hx", [False, True])
def test_the_page_lists_tokens_without_their_secret(admin_client, hx):
    plain_token = issue_token(("read",), name="BI 报表")
    html = assert_page(admin_client.get(URL, headers=HX if hx else {}), hx)
    assert "BI 报表" in html and plain_token[:10] in html and plain_token not in html
    assert "吊销" in html and 'name="name"' in html  # the revoke button and the issue form
    if not hx:
        assert "API 令牌" in html


@pytest.mark.parametrize("roles", [(EMPLOYEE,), (DEPT_HEAD,), (QUALITY_MANAGER,), (EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER)])
@pytest.mark.parametrize("hx", [False, True])
def test_other_roles_are_refused(client, login, roles, hx):
    issue_token(name="别人的令牌")
    token_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, create_user(roles=roles))
    headers = HX if hx else {}
    responses = [client.get(URL, headers=headers), _issue(client, headers=headers),
                 client.post(f"{URL}{token_id}/revoke", headers=headers)]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert count(ApiToken) == 1 and reloaded(db.session.get(ApiToken, token_id)).revoked_at is None


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    assert client.get(URL, headers=HX).status_code == 401


def test_the_nav_offers_the_page_to_administrators_only(admin_client, client_for):
    assert URL in text(admin_client.get("/"))
    assert URL not in text(client_for(create_user(roles=(QUALITY_MANAGER,))).get("/"))


# -- issuing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hx", [False, True])
def test_a_new_token_is_shown_once_and_works(admin_client, admin, client, point, hx):
    response = _issue(admin_client, headers=HX if hx else {})
    html = assert_page(response, hx)
    token = _shown_token(html)
    assert "新令牌（只显示这一次）" in plain(html)
    row = db.session.scalar(sa.select(ApiToken))
    assert (row.name, row.scopes, row.created_by_id, row.revoked_at) == ("一号评价器", "read,write", admin.id, None)
    assert token.startswith(row.prefix) and token not in (row.token_sha256, row.prefix)
    event = audit("api.token_create", row)
    assert len(event) == 1 and token not in str(event[0].summary)
    # shown once: the page does not show it again
    again = admin_client.get(URL)
    assert token not in text(again) and row.prefix in text(again)
    # it works against the API, with the scopes chosen
    assert client.get("/api/v1/service-points", headers=bearer(token)).status_code == 200
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 5}).status_code == 201


def test_the_flash_says_to_copy_it_now(admin_client):
    html = assert_full_page(_issue(admin_client, name="平板"))
    assert any(category == "success" and "平板" in message for category, message in flashes(html)), flashes(html)


def test_a_read_only_token_from_the_page_cannot_submit(admin_client, client, point):
    token = _shown_token(text(_issue(admin_client, scopes=("read",))))
    assert db.session.scalar(sa.select(ApiToken.scopes)) == "read"
    assert_problem(post_feedback(client, token, {"service_point": "KF01", "rating": 5}), 403, "scope_missing")


@pytest.mark.parametrize("hx", [False, True])
@pytest.mark.parametrize("name, scopes, field", [("", ("read",), "name"), ("   ", ("read",), "name"),
                                                  ("x" * 101, ("read",), "name"), ("平板", (), "scopes"),
                                                  ("平板", ("admin",), "scopes")])
def test_invalid_input_keeps_the_form_with_a_chinese_error(admin_client, hx, name, scopes, field):
    response = _issue(admin_client, name=name, scopes=scopes, headers=HX if hx else {})
    html = assert_page(response, hx, status=422)
    assert field_has_error(html, field), html[:2000]
    assert "sqp_" not in html and count(ApiToken) == 0


def test_without_the_csrf_token_nothing_is_issued(admin_client):
    response = admin_client.post(URL, data={"name": "平板", "scopes": ["read"]}, csrf=False)
    assert response.status_code == 400 and count(ApiToken) == 0


# -- revoking -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hx", [False, True])
def test_revoking_a_token_refuses_it_from_then_on(admin_client, admin, client, point, hx):
    token = issue_token(("read", "write"))
    row = db.session.scalar(sa.select(ApiToken))
    assert client.get("/api/v1/service-points", headers=bearer(token)).status_code == 200
    response = admin_client.post(f"{URL}{row.id}/revoke", headers=HX if hx else {})
    if hx:
        assert response.status_code == 204 and response.headers["HX-Redirect"] == URL
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith(URL)
    row = reloaded(row)
    assert row.revoked_at is not None and row.revoked_by_id == admin.id
    assert len(audit("api.token_revoke", row)) == 1
    assert_problem(client.get("/api/v1/service-points", headers=bearer(token)), 401, "token_invalid")
    assert_problem(post_feedback(client, token, {"service_point": "KF01", "rating": 5}), 401, "token_invalid")
    assert count(Feedback) == 0
    page = text(admin_client.get(URL))
    assert "已吊销" in page and f"{URL}{row.id}/revoke" not in page  # no revoke button for a revoked token


def test_revoking_twice_says_so_and_changes_nothing(admin_client):
    issue_token()
    row = db.session.scalar(sa.select(ApiToken))
    admin_client.post(f"{URL}{row.id}/revoke")
    first = reloaded(row).revoked_at
    response = admin_client.post(f"{URL}{row.id}/revoke", follow_redirects=True)
    assert any(category == "danger" for category, _m in flashes(text(response))), flashes(text(response))
    assert reloaded(row).revoked_at == first and len(audit("api.token_revoke", row)) == 1


def test_revoking_an_unknown_token_is_a_404(admin_client):
    assert admin_client.post(f"{URL}999999/revoke").status_code == 404


def test_revoking_without_the_csrf_token_does_nothing(admin_client):
    issue_token()
    row = db.session.scalar(sa.select(ApiToken))
    response = admin_client.post(f"{URL}{row.id}/revoke", csrf=False)
    assert response.status_code == 400 and reloaded(row).revoked_at is None


def test_revoking_one_token_leaves_the_others(admin_client, client, point):
    kept, revoked = issue_token(name="甲"), issue_token(name="乙")
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "乙"))
    admin_client.post(f"{URL}{row.id}/revoke")
    assert client.get("/api/v1/service-points", headers=bearer(kept)).status_code == 200
    assert client.get("/api/v1/service-points", headers=bearer(revoked)).status_code == 401


# -- the command line -----------------------------------------------------------------------------------
def _stdout_lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_cli_create_prints_the_token_alone_on_its_last_line(runner, client, point):
    result = runner.invoke(args=["portal", "api-token", "create", "--name", "大厅评价器", "--scope", "read,write"])
    assert result.exit_code == 0, result.output
    lines = _stdout_lines(result)
    token = lines[-1]
    assert re.fullmatch(r"sqp_[A-Za-z0-9_-]{40,}", token), lines
    assert result.stdout.count(token) == 1 and token not in result.stderr  # printed once, on stdout only
    assert "read,write" in result.stderr
    row = db.session.scalar(sa.select(ApiToken))
    assert (row.name, row.scopes, row.created_by_id) == ("大厅评价器", "read,write", None)
    assert audit("api.token_create", row)[0].summary["via"] == "cli"
    assert client.get("/api/v1/service-points", headers=bearer(token)).status_code == 200
    created = post_feedback(client, token, {"service_point": "KF01", "rating": 5})
    assert created.status_code == 201


def test_cli_create_takes_write_by_default(runner, client, point):
    result = runner.invoke(args=["portal", "api-token", "create", "--name", "平板"])
    token = _stdout_lines(result)[-1]
    assert db.session.scalar(sa.select(ApiToken.scopes)) == "write"
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 5}).status_code == 201
    assert_problem(client.get("/api/v1/feedback", headers=bearer(token)), 403, "scope_missing")


@pytest.mark.parametrize("args", [["--name", "x", "--scope", "admin"], ["--name", "x", "--scope", ","],
                                  ["--name", "  ", "--scope", "read"], ["--scope", "read"]])
def test_cli_create_refuses_bad_input_and_issues_nothing(runner, args):
    result = runner.invoke(args=["portal", "api-token", "create", *args])
    assert result.exit_code != 0 and "sqp_" not in result.stdout
    assert count(ApiToken) == 0


def test_cli_list_and_revoke(runner, client):
    token = issue_token(("read",), name="BI 报表")
    row = db.session.scalar(sa.select(ApiToken))
    listed = runner.invoke(args=["portal", "api-token", "list"])
    assert listed.exit_code == 0
    (line,) = listed.stdout.splitlines()
    assert line.split("\t")[:4] == [str(row.id), f"{row.prefix}…", "read", "active"] and line.endswith("BI 报表")
    assert token not in listed.stdout
    revoked = runner.invoke(args=["portal", "api-token", "revoke", str(row.id)])
    assert revoked.exit_code == 0 and reloaded(row).revoked_at is not None
    assert audit("api.token_revoke", row)[0].summary["via"] == "cli"
    assert "\trevoked\t" in runner.invoke(args=["portal", "api-token", "list"]).stdout
    assert client.get("/api/v1/service-points", headers=bearer(token)).status_code == 401
    again = runner.invoke(args=["portal", "api-token", "revoke", str(row.id)])
    assert again.exit_code != 0 and len(audit("api.token_revoke", row)) == 1
    assert runner.invoke(args=["portal", "api-token", "revoke", "999999"]).exit_code != 0


def test_cli_kiosk_url_opens_the_form(runner, client, point, app):
    result = runner.invoke(args=["portal", "kiosk-url", "kf01"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith(app.config["PORTAL_BASE_URL"]) and url.endswith(kiosk_path(point))
    form = client.get(url)
    assert form.status_code == 200 and "一号窗口" in text(form)


def test_cli_kiosk_url_of_a_staff_code_names_the_clerk(runner, client, point):
    clerk = create_user("clerk_li", display_name="李柜员")
    staff_code = make_staff_code(point, clerk)
    db.session.commit()
    result = runner.invoke(args=["portal", "kiosk-url", staff_code.code])
    assert result.exit_code == 0 and result.stdout.strip().endswith(kiosk_path(point, staff_code))
    assert "李柜员" in text(client.get(result.stdout.strip()))


def test_cli_kiosk_url_of_an_unknown_code_fails(runner):
    result = runner.invoke(args=["portal", "kiosk-url", "NOPE"])
    assert result.exit_code != 0 and result.stdout == "" and "NOPE" in result.stderr


# -- the wiring -----------------------------------------------------------------------------------------
def test_admin_page_and_nav_entry_exist_for_administrators(app):
    with app.test_request_context():
        from flask import url_for

        assert url_for("api_admin.tokens") == URL
    admin_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "api_admin.revoke")
    assert admin_rule.methods >= {"POST"} and "GET" not in admin_rule.methods


def test_the_partial_is_what_the_page_includes(admin_client):
    issue_token(name="甲")
    full = assert_full_page(admin_client.get(URL))
    partial = assert_partial(admin_client.get(URL, headers=HX))
    assert 'id="api-tokens"' in full and 'id="api-tokens"' not in partial
    assert "甲" in partial
