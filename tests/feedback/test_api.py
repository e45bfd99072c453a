"""The device and integration API (/api/v1) against the real application, database and Redis: bearer tokens
(hashed at rest, scoped, revocable), the service points, feedback in (idempotent, 差评 notifies the head once),
feedback out (keyset pages), problem details in Chinese, the rate limit, and the OpenAPI document."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import jsonschema_rs
import pytest
import sqlalchemy as sa

from portal.api.models import ApiToken
from portal.core.roles import ADMIN, DEPT_HEAD
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import services
from portal.feedback.models import Feedback
from portal.notify.models import Notification
from tests.feedback.api_helpers import assert_problem, bearer, has_chinese, issue_token, post_feedback
from tests.feedback.helpers import make_point, make_staff_code, receive
from tests.helpers import count, create_department, create_user, reloaded, text


@pytest.fixture
def head():
    return create_user("head_kf", roles=(DEPT_HEAD,), display_name="客服部负责人")


@pytest.fixture
def point(head):
    department = create_department("客服部", head=head)
    return make_point("KF01", department, categories="服务态度\n等候时间")


@pytest.fixture
def token(point):
    return issue_token(("read", "write"))


def _rows(*where) -> list[Feedback]:
    return list(db.session.scalars(sa.select(Feedback).where(*where).order_by(Feedback.id)))


def _notifications(user) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.recipient_id == user.id)))


# -- tokens ---------------------------------------------------------------------------------------------
def test_only_the_sha256_of_a_token_is_stored(client, point):
    plain = issue_token(("read",), name="BI 报表")
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "BI 报表"))
    assert row.token_sha256 == hashlib.sha256(plain.encode()).hexdigest()
    assert row.prefix == plain[:10] and plain.startswith("sqp_") and len(plain) > 40
    raw = db.session.execute(sa.text("SELECT * FROM api_token")).mappings().all()
    stored = json.dumps([dict(r) for r in raw], default=str)
    assert plain not in stored and plain[10:] not in stored  # nothing past the public prefix, in any column
    events = db.session.execute(sa.text("SELECT * FROM audit_event")).mappings().all()
    assert events and plain not in json.dumps([dict(e) for e in events], default=str)
    assert client.get("/api/v1/service-points", headers=bearer(plain)).status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Token sqp_x",
                                    "sqp_abcdef", "Bearer\tsqp_abc"])
def test_a_missing_or_malformed_authorization_is_a_401_with_www_authenticate(client, point, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/service-points", headers=headers)
    body = assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert has_chinese(body["title"]) and has_chinese(body["detail"])


@pytest.mark.parametrize("value", ["sqp_not-a-real-token", "sqp_" + "x" * 300, "sqp_令牌"])
def test_an_unknown_token_is_a_401(client, point, token, value):
    response = client.get("/api/v1/service-points", headers={"Authorization": "Bearer " + value})
    assert_problem(response, 401, "token_invalid")
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_the_scheme_is_case_insensitive(client, token):
    assert client.get("/api/v1/service-points", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_revoked_token_is_refused(client, point, token):
    from portal.api import services as api_services

    assert client.get("/api/v1/service-points", headers=bearer(token)).status_code == 200
    row = db.session.scalar(sa.select(ApiToken))
    api_services.revoke_token(create_user(roles=(ADMIN,)), row)
    db.session.commit()
    for response in (client.get("/api/v1/service-points", headers=bearer(token)),
                     client.get("/api/v1/feedback", headers=bearer(token)),
                     post_feedback(client, token, {"service_point": "KF01", "rating": 5})):
        assert_problem(response, 401, "token_invalid")
    assert count(Feedback) == 0


def test_a_read_token_cannot_submit(client, point):
    read_only = issue_token(("read",))
    response = post_feedback(client, read_only, {"service_point": "KF01", "rating": 5}, key="k1")
    body = assert_problem(response, 403, "scope_missing")
    assert "write" in body["detail"] and has_chinese(body["detail"])
    assert count(Feedback) == 0
    assert client.get("/api/v1/feedback", headers=bearer(read_only)).status_code == 200
    assert client.get("/api/v1/service-points", headers=bearer(read_only)).status_code == 200


def test_a_write_only_token_cannot_read(client, point):
    write_only = issue_token(("write",))
    for url in ("/api/v1/feedback", "/api/v1/service-points"):
        body = assert_problem(client.get(url, headers=bearer(write_only)), 403, "scope_missing")
        assert "read" in body["detail"]
    assert post_feedback(client, write_only, {"service_point": "KF01", "rating": 5}).status_code == 201


def test_use_is_stamped_at_most_once_a_minute(client, point, token):
    row = db.session.scalar(sa.select(ApiToken))
    assert row.last_used_at is None
    client.get("/api/v1/service-points", headers=bearer(token))
    first = reloaded(row).last_used_at
    assert first is not None
    client.get("/api/v1/service-points", headers=bearer(token))
    assert reloaded(row).last_used_at == first  # within the minute: not written again


def test_a_login_session_is_not_a_token(client, point, login):
    login(client, create_user(roles=(ADMIN,)))
    assert_problem(client.get("/api/v1/service-points"), 401, "token_missing")


# -- service points -------------------------------------------------------------------------------------
def test_service_points_lists_the_active_ones_with_a_kiosk_url_that_opens_the_form(client, point, token):
    other = make_point("YY02", create_department("运营部"), name="二号窗口")
    make_point("OFF1", point.department, name="停用窗口", active=False)
    response = client.get("/api/v1/service-points", headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "application/json"
    items = response.get_json()["items"]
    assert [i["code"] for i in items] == ["KF01", "YY02"]  # the inactive point is not offered
    assert items[0]["name"] == "一号窗口" and items[0]["department"] == "客服部"
    assert items[1]["department"] == "运营部" and set(items[0]) == {"code", "name", "department", "kiosk_url"}
    for item, expected in ((items[0], point), (items[1], other)):
        assert item["kiosk_url"].startswith("http")
        form = client.get(item["kiosk_url"])
        assert form.status_code == 200, item["kiosk_url"]
        assert expected.name in text(form)


# -- feedback in ----------------------------------------------------------------------------------------
def test_a_rating_is_stored_and_its_query_code_works(client, point, token):
    response = post_feedback(client, token, {"service_point": "kf01", "rating": 4, "nps": 9, "comment": " 很快 ",
                                             "categories": ["服务态度"]}, key="dev1-0001")
    assert response.status_code == 201, text(response)
    body = response.get_json()
    assert set(body) == {"id", "query_code"} and "Idempotent-Replayed" not in response.headers
    row = db.session.get(Feedback, body["id"])
    assert (row.channel, row.rating, row.nps, row.comment, row.categories) == ("device", 4, 9, "很快", ["服务态度"])
    assert row.service_point_id == point.id and row.department_id == point.department_id
    assert row.api_token_id == db.session.scalar(sa.select(ApiToken.id)) and not row.is_spam
    page = client.get(f"/q/{body['query_code']}")
    assert page.status_code == 200 and "一号窗口" in text(page)


def test_the_optional_fields_may_be_left_out_or_null(client, point, token):
    for body in ({"service_point": "KF01", "rating": 5},
                 {"service_point": "KF01", "rating": 3, "nps": None, "comment": None, "categories": None}):
        assert post_feedback(client, token, body).status_code == 201
    assert [(r.nps, r.comment, r.categories) for r in _rows()] == [(None, "", [])] * 2


def test_an_integral_number_is_an_integer(client, point, token):
    """JSON Schema's integer: 4.0 is one (what the fuzzer sends), true and "4" are not (see the 422 cases)."""
    response = post_feedback(client, token, {"service_point": "KF01", "rating": 4.0, "nps": 7.0})
    assert response.status_code == 201, text(response)
    assert [(r.rating, r.nps) for r in _rows()] == [(4, 7)]


def test_without_an_idempotency_key_every_request_is_new(client, point, token):
    first = post_feedback(client, token, {"service_point": "KF01", "rating": 5}).get_json()
    second = post_feedback(client, token, {"service_point": "KF01", "rating": 5}).get_json()
    assert first["id"] != second["id"] and count(Feedback) == 2


def test_the_same_idempotency_key_gives_the_same_id_and_one_row(client, point, token):
    body = {"service_point": "KF01", "rating": 5, "comment": "好"}
    first = post_feedback(client, token, body, key="tap-42")
    second = post_feedback(client, token, body, key="tap-42")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(Feedback) == 1


def test_the_same_key_with_another_body_is_refused(client, point, token):
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 5}, key="tap-43").status_code == 201
    response = post_feedback(client, token, {"service_point": "KF01", "rating": 1}, key="tap-43")
    body = assert_problem(response, 422, "idempotency_key_reused")
    assert has_chinese(body["detail"])
    assert [r.rating for r in _rows()] == [5]


def test_the_same_key_from_two_tokens_is_two_requests(client, point, token):
    other = issue_token(("write",), name="二号评价器")
    body = {"service_point": "KF01", "rating": 5}
    first = post_feedback(client, token, body, key="0001").get_json()
    second = post_feedback(client, other, body, key="0001").get_json()
    assert first["id"] != second["id"] and first["query_code"] != second["query_code"]
    assert count(Feedback) == 2
    assert len({r.api_token_id for r in _rows()}) == 2


def test_a_negative_rating_notifies_the_head_once_even_when_replayed(client, point, token, head, drain_queue):
    body = {"service_point": "KF01", "rating": 2, "comment": "等了四十分钟"}
    responses = [post_feedback(client, token, body, key="neg-1") for _ in range(3)]
    assert {r.status_code for r in responses} == {201} and len({r.get_json()["id"] for r in responses}) == 1
    notes = _notifications(head)
    assert len(notes) == 1
    assert notes[0].kind == services.KIND_NEGATIVE and "一号窗口" in notes[0].title and "等了四十分钟" in notes[0].body
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 4}, key="pos-1").status_code == 201
    assert len(_notifications(head)) == 1  # a good rating notifies no one


@pytest.mark.parametrize("body, fields", [
    ({"rating": 5}, {"service_point"}),
    ({"service_point": "KF01"}, {"rating"}),
    ({"service_point": "KF01", "rating": 0}, {"rating"}),
    ({"service_point": "KF01", "rating": 6}, {"rating"}),
    ({"service_point": "KF01", "rating": 4.5}, {"rating"}),
    ({"service_point": "KF01", "rating": "five"}, {"rating"}),
    ({"service_point": "KF01", "rating": "5"}, {"rating"}),
    ({"service_point": "KF01", "rating": True}, {"rating"}),
    ({"service_point": "KF01", "rating": 5, "nps": False}, {"nps"}),
    ({"service_point": 1, "rating": 5}, {"service_point"}),
    ({"service_point": "KF01", "rating": 5, "nps": 11}, {"nps"}),
    ({"service_point": "KF01", "rating": 5, "nps": -1}, {"nps"}),
    ({"service_point": "KF01", "rating": 5, "comment": "长" * 501}, {"comment"}),
    ({"service_point": "KF01", "rating": 5, "categories": "服务态度"}, {"categories"}),
    ({"service_point": "KF01", "rating": 5, "categories": ["x"] * 11}, {"categories"}),
    ({"service_point": "KF01", "rating": 5, "categories": ["不存在的分类"]}, {"categories"}),
    ({"service_point": "KF01", "rating": 5, "contact": "13800138000"}, {"contact"}),
    ({"service_point": "", "rating": 5}, {"service_point"}),
    ([], {"body"}),
    ("5", {"body"}),
    ("null", {"body"}),
])
def test_invalid_input_is_a_422_with_the_errors_of_each_field(client, point, token, body, fields):
    response = post_feedback(client, token, body if not isinstance(body, str) else body)
    problem = assert_problem(response, 422)
    assert problem["code"] == "invalid"
    assert {e["field"] for e in problem["errors"]} == fields, problem["errors"]
    assert all(has_chinese(e["message"]) for e in problem["errors"]), problem["errors"]
    assert has_chinese(problem["title"]) and has_chinese(problem["detail"])
    assert count(Feedback) == 0


@pytest.mark.parametrize("code", ["NOPE", "OFF1"])
def test_an_unknown_or_inactive_point_is_a_422(client, point, token, code):
    make_point("OFF1", point.department, active=False)
    response = post_feedback(client, token, {"service_point": code, "rating": 5})
    problem = assert_problem(response, 422, "unknown_service_point")
    assert problem["errors"] == [{"field": "service_point", "message": problem["errors"][0]["message"]}]
    assert count(Feedback) == 0


@pytest.mark.parametrize("data", ["{", '{"service_point": "KF01", "rating": 5', "\xff", "", "{'a': 1}"])
def test_malformed_json_is_a_400(client, point, token, data):
    response = client.post("/api/v1/feedback", data=data.encode("latin-1"), content_type="application/json",
                           headers=bearer(token), csrf=False)
    problem = assert_problem(response, 400, "malformed_json")
    assert has_chinese(problem["detail"])


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_a_415(client, point, token, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/api/v1/feedback", data='{"service_point": "KF01", "rating": 5}', headers=bearer(token),
                           csrf=False, **kwargs)
    assert_problem(response, 415, "unsupported_media_type")
    assert count(Feedback) == 0


def test_a_body_larger_than_a_submission_needs_is_a_413(client, point, token):
    response = post_feedback(client, token, {"service_point": "KF01", "rating": 5, "comment": "长" * 200_000})
    problem = assert_problem(response, 413, "too_large")
    assert problem["detail"] == "请求体过大：至多 16 KB。"
    assert count(Feedback) == 0


@pytest.mark.parametrize("key", ["k" * 101, "有中文", "tab\there"])
def test_an_unusable_idempotency_key_is_a_422(client, point, token, key):
    response = client.post("/api/v1/feedback", data='{"service_point": "KF01", "rating": 5}',
                           content_type="application/json",
                           headers={**bearer(token), "Idempotency-Key": key.encode("utf-8").decode("latin-1")},
                           csrf=False)
    assert_problem(response, 422, "invalid_idempotency_key")
    assert count(Feedback) == 0


def test_a_nul_character_in_the_body_is_refused_not_a_server_error(client, point, token):
    for body in ({"service_point": "KF01", "rating": 5, "comment": "a\u0000b"},
                 {"service_point": "KF\u000001", "rating": 5},
                 {"service_point": "KF01", "rating": 5, "categories": ["服务\u0000态度"]}):
        problem = assert_problem(post_feedback(client, token, body), 422, "invalid")
        assert problem["errors"][0]["message"] == "不能含有 NUL 字符。"
    assert count(Feedback) == 0
    assert_problem(client.get("/api/v1/feedback", query_string={"service_point": "KF\u000001"}, headers=bearer(token)),
                   400)


# -- feedback out ---------------------------------------------------------------------------------------
def _walk(client, token, **params) -> tuple[list[dict], int]:
    """Every item of the export, following next_cursor; and the number of pages."""
    items, pages, cursor = [], 0, None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get("/api/v1/feedback", query_string=query, headers=bearer(token))
        assert response.status_code == 200, text(response)
        page = response.get_json()
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100


def test_walking_the_pages_returns_every_row_once_in_order(client, point, token):
    other = make_point("YY02", create_department("运营部"))
    for n in range(8):
        receive(other if n % 3 == 0 else point, rating=1 + n % 5, comment=f"第{n}条")
    db.session.commit()
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 5, "comment": "终端"}).status_code == 201
    expected = [r.id for r in _rows(Feedback.is_spam.is_(False))]
    items, pages = _walk(client, token, limit=3)
    assert [i["id"] for i in items] == expected and len(expected) == 9 and pages == 3
    one_page, pages = _walk(client, token)
    assert [i["id"] for i in one_page] == expected and pages == 1
    assert {i["channel"] for i in items} == {"kiosk", "device"}


def test_the_export_filters_by_time_and_point(client, point, token):
    other = make_point("YY02", create_department("运营部"))
    now = utcnow().replace(microsecond=0)
    for days, where in ((10, point), (5, point), (5, other), (1, point)):
        row = receive(where, rating=3, comment=f"{where.code}-{days}").feedback
        row.created_at = now - timedelta(days=days)
    db.session.commit()
    ids = {r.comment: r.id for r in _rows()}

    def comments(**params):
        return [i["comment"] for i in _walk(client, token, **params)[0]]

    since = (now - timedelta(days=6)).isoformat()
    until = (now - timedelta(days=2)).isoformat()
    assert comments(since=since) == ["KF01-5", "YY02-5", "KF01-1"]
    assert comments(since=since, until=until) == ["KF01-5", "YY02-5"]
    assert comments(until=until, service_point="KF01") == ["KF01-10", "KF01-5"]
    assert comments(service_point="yy02") == ["YY02-5"]
    assert comments(service_point="NOPE") == []
    # A time without an offset is Asia/Shanghai's; "Z" is UTC.
    shanghai = (now - timedelta(days=6) + timedelta(hours=8)).replace(tzinfo=None).isoformat()
    assert comments(since=shanghai) == comments(since=since)
    assert comments(since=(now - timedelta(days=6)).replace(tzinfo=None).isoformat() + "Z") == comments(since=since)
    assert len(ids) == 4


def test_times_beyond_what_can_be_stored_are_as_early_or_as_late_as_can_be(client, point, token):
    """Valid RFC 3339 times whose UTC falls outside years 1–9999 (found by the fuzzer: a server error before)."""
    receive(point, rating=5, comment="有一条")
    db.session.commit()
    early, late = "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"
    assert len(_walk(client, token, since=early)[0]) == 1
    assert len(_walk(client, token, until=late)[0]) == 1
    assert _walk(client, token, until=early)[0] == [] and _walk(client, token, since=late)[0] == []
    assert len(_walk(client, token, since="0001-01-01T00:00:00")[0]) == 1  # naive: Asia/Shanghai, before year 1 in UTC


def test_the_cursor_is_the_last_id_of_the_page_before(client, point, token):
    ids = [receive(point, rating=5, comment=f"第{n}条").feedback.id for n in range(3)]
    db.session.commit()
    page = client.get("/api/v1/feedback", query_string={"limit": 2}, headers=bearer(token)).get_json()
    assert page["next_cursor"] == str(ids[1])
    rest = client.get("/api/v1/feedback", query_string={"cursor": page["next_cursor"]}, headers=bearer(token))
    assert [i["id"] for i in rest.get_json()["items"]] == ids[2:]
    beyond = client.get("/api/v1/feedback", query_string={"cursor": "9" * 18}, headers=bearer(token)).get_json()
    assert beyond == {"items": [], "next_cursor": None}


def test_spam_is_left_out_unless_asked_for(client, point, token):
    receive(point, rating=5, comment="正常")
    spam = receive(point, rating=1, comment="http://a.example http://b.example").feedback
    db.session.commit()
    assert spam.is_spam
    assert [i["comment"] for i in _walk(client, token)[0]] == ["正常"]
    with_spam = _walk(client, token, include_spam="true")[0]
    assert [(i["comment"], i["spam"]) for i in with_spam] == [("正常", False), (spam.comment, True)]
    assert [i["comment"] for i in _walk(client, token, include_spam="false")[0]] == ["正常"]


def test_the_export_carries_no_contact_data_and_no_clerk(client, point, token):
    clerk = create_user("clerk_wang", display_name="王柜员")
    staff_code = make_staff_code(point, clerk)
    services.receive(services.Submission(rating=2, comment="请回电", contact_name="李女士", contact_phone="13912345678",
                                         contact_email="li@example.cn", consent=True),
                     services.Intake(channel="kiosk", idempotency_key="k-contact", point=point, staff_code=staff_code))
    db.session.commit()
    row = _rows()[0]
    assert row.contact_phone == "13912345678" and row.staff_user_id == clerk.id  # stored, but not exported
    response = client.get("/api/v1/feedback", headers=bearer(token))
    item = response.get_json()["items"][0]
    assert set(item) == {"id", "service_point", "department", "channel", "kind", "rating", "nps", "categories",
                         "comment", "status", "spam", "rated_at", "created_at"}
    raw = text(response)
    for secret in ("13912345678", "li@example.cn", "李女士", "王柜员", "clerk_wang", staff_code.code):
        assert secret not in raw


@pytest.mark.parametrize("params, code", [
    ({"limit": "0"}, "invalid_limit"), ({"limit": "501"}, "invalid_limit"), ({"limit": "ten"}, "invalid_limit"),
    ({"cursor": "not-a-cursor"}, "invalid_cursor"), ({"cursor": "-5"}, "invalid_cursor"),
    ({"cursor": "0"}, "invalid_cursor"), ({"cursor": ""}, "invalid_cursor"), ({"cursor": "1" * 19}, "invalid_cursor"),
    ({"since": "yesterday"}, "invalid_time"), ({"until": "2026-13-01"}, "invalid_time"),
    ({"include_spam": "yes"}, "invalid"),
])
def test_invalid_export_parameters_are_a_422(client, point, token, params, code):
    problem = assert_problem(client.get("/api/v1/feedback", query_string=params, headers=bearer(token)), 422, code)
    assert problem["errors"] and has_chinese(problem["errors"][0]["message"])


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/v1/nope", "/api/v2/feedback", "/api/", "/api/v1/feedback/1"])
def test_an_unknown_url_under_the_api_is_a_404_problem(client, token, url):
    problem = assert_problem(client.get(url, headers=bearer(token)), 404, "not_found")
    assert has_chinese(problem["title"]) and has_chinese(problem["detail"])


def test_a_wrong_method_is_a_405_problem_saying_what_is_allowed(client, token):
    response = client.open("/api/v1/feedback", method="DELETE", headers=bearer(token))
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    response = client.post("/api/v1/service-points", headers=bearer(token), csrf=False)
    assert_problem(response, 405, "method_not_allowed")


def test_problem_details_are_in_chinese_by_default(client, point, token):
    problem = assert_problem(post_feedback(client, token, {"service_point": "KF01", "rating": 9}), 422)
    assert (problem["title"], problem["detail"]) == ("数据无效", "数据无效：详见 errors。")
    assert problem["errors"] == [{"field": "rating", "message": "不能大于 5。"}]


def test_an_unreachable_database_is_a_503_problem_saying_when_to_retry(client, point, token, monkeypatch):
    def unreachable(code):
        raise sa.exc.OperationalError("SELECT", {}, Exception("could not connect to server: Connection refused"))

    monkeypatch.setattr(services, "point_by_code", unreachable)
    response = post_feedback(client, token, {"service_point": "KF01", "rating": 5}, key="retry-me")
    problem = assert_problem(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0 and has_chinese(problem["detail"])
    monkeypatch.undo()
    assert post_feedback(client, token, {"service_point": "KF01", "rating": 5}, key="retry-me").status_code == 201
    assert count(Feedback) == 1


@pytest.mark.committing
def test_the_write_limit_is_per_token_and_answers_429(tmp_path):
    from tests.web import separate_app

    with separate_app(tmp_path, create_tables=True, RATELIMIT_ENABLED=True, PORTAL_API_WRITE_LIMIT="2/minute",
                      RATELIMIT_KEY_PREFIX=f"test-api-{uuid.uuid4().hex}") as limited:
        with limited.app_context():
            make_point("KF01", create_department("客服部"))
            first, second = issue_token(("write",), name="甲"), issue_token(("write",), name="乙")
        client = limited.test_client()
        body = {"service_point": "KF01", "rating": 5}
        statuses = [post_feedback(client, first, body).status_code for _ in range(2)]
        refused = post_feedback(client, first, body, key="after-the-limit")
        assert statuses == [201, 201]
        problem = assert_problem(refused, 429, "rate_limited")
        assert has_chinese(problem["title"]) and int(refused.headers["Retry-After"]) > 0
        assert post_feedback(client, second, body).status_code == 201  # the other terminal is not held back
        with limited.app_context():
            assert count(Feedback) == 3


# -- the OpenAPI document -------------------------------------------------------------------------------
@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _validator(spec, status: int, path: str, method: str):
    content = spec["paths"][path][method]["responses"][str(status)]["content"]
    (media, entry), = content.items()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec["components"],
              **entry["schema"]}
    return media, jsonschema_rs.validator_for(schema)


def test_the_openapi_document_describes_every_api_route(app, spec):
    assert spec["openapi"].startswith("3.1") and spec["servers"][0]["url"].endswith("/api/v1")
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((rule.rule.removeprefix("/api/v1"), method.lower()))
    documented = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    assert documented == routes == {("/service-points", "get"), ("/feedback", "get"), ("/feedback", "post")}
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    scopes = {(p, m): spec["paths"][p][m]["security"][0]["bearerAuth"] for p, m in documented}
    assert scopes == {("/service-points", "get"): ["read"], ("/feedback", "get"): ["read"],
                      ("/feedback", "post"): ["write"]}
    for path, method in documented:
        responses = spec["paths"][path][method]["responses"]
        assert {"400", "401", "403", "503"} <= set(responses), (path, method, sorted(responses))
        assert "WWW-Authenticate" in responses["401"]["headers"] and "Retry-After" in responses["503"]["headers"]
        for status, response in responses.items():
            media = "application/json" if status.startswith("2") else "application/problem+json"
            assert list(response["content"]) == [media], (path, method, status)
    post = spec["paths"]["/feedback"]["post"]
    assert set(post["responses"]) == {"201", "400", "401", "403", "413", "415", "422", "429", "503"}
    assert "Idempotent-Replayed" in post["responses"]["201"]["headers"]
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert set(spec["paths"]["/feedback"]["get"]["responses"]) == {"200", "400", "401", "403", "422", "503"}
    body = spec["components"]["schemas"][post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                                         .rsplit("/", 1)[1]]
    assert set(body["required"]) == {"service_point", "rating"} and body["additionalProperties"] is False


def test_what_the_endpoints_return_is_what_the_document_says(client, point, token, spec):
    created = post_feedback(client, token, {"service_point": "KF01", "rating": 2, "nps": 3, "comment": "慢",
                                            "categories": ["等候时间"]})
    listed = client.get("/api/v1/service-points", headers=bearer(token))
    exported = client.get("/api/v1/feedback", query_string={"limit": 1}, headers=bearer(token))
    invalid = post_feedback(client, token, {"service_point": "KF01", "rating": 0})
    missing = client.get("/api/v1/feedback")
    for response, status, path, method in ((created, 201, "/feedback", "post"),
                                           (listed, 200, "/service-points", "get"),
                                           (exported, 200, "/feedback", "get"),
                                           (invalid, 422, "/feedback", "post"),
                                           (missing, 401, "/feedback", "get")):
        assert response.status_code == status
        media, validator = _validator(spec, status, path, method)
        assert response.mimetype == media
        validator.validate(response.get_json())
