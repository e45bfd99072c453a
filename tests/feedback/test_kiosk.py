"""The kiosk form at /k/<code>/<sig>: plain POST without JavaScript, htmx POST, one row per form token,
the honeypot, consent, forged URLs, and the 查询码 page."""
from __future__ import annotations

import pytest

from portal.extensions import db
from tests.feedback.helpers import (feedback_count, kiosk_path, make_point, make_staff_code, open_form, query_code,
                                    received)
from tests.helpers import HX, assert_full_page, assert_partial, audit, create_user, text


@pytest.fixture
def point():
    return make_point("KF01", categories="服务态度\n等候时间")


def test_the_form_is_a_chinese_page_without_login(client, point):
    response = client.get(kiosk_path(point))
    html = assert_full_page(response)
    assert "一号窗口" in html and "非常满意" in html and "非常不满意" in html
    assert "服务态度" in html and "等候时间" in html
    assert 'name="website"' in html  # the honeypot
    assert "bootstrap" not in html  # the kiosk carries its own small stylesheet
    assert response.headers["Cache-Control"] == "no-store"  # its one-time token must never be served twice


def test_a_plain_post_without_javascript_stores_one_row_and_shows_the_query_code(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "rating": "4", "comment": "办理很快", "nps": "9",
                                                     "categories": ["服务态度"]}, csrf=False)
    html = assert_full_page(response)
    code = query_code(html)
    assert len(code.replace("-", "")) == 8
    row = received("办理很快")
    assert (row.rating, row.nps, row.categories, row.channel, row.is_spam) == (4, 9, ["服务态度"], "kiosk", False)
    assert row.department_id == point.department_id and row.service_point_id == point.id
    assert audit("feedback.receive", row) == []  # the row is the record; staff actions on it are audited


def test_customer_intake_is_audited_when_the_setting_asks_for_it(app, client, point, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_CUSTOMER_INTAKE", True)
    fields = open_form(client, kiosk_path(point))
    client.post(kiosk_path(point), data={**fields, "rating": "3", "comment": "审计开启"}, csrf=False)
    [event] = audit("feedback.receive", received("审计开启"))
    assert event.actor_id is None and event.ip == ""  # a customer: no account, and no address kept


def test_an_htmx_post_gets_the_thank_you_fragment(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "rating": "5"}, headers=HX, csrf=False)
    html = assert_partial(response)
    assert query_code(html)
    assert feedback_count() == 1


def test_a_double_submit_or_a_replayed_token_stores_one_row(client, point):
    fields = open_form(client, kiosk_path(point))
    data = {**fields, "rating": "2", "comment": "等了很久"}
    first = client.post(kiosk_path(point), data=data, csrf=False)
    second = client.post(kiosk_path(point), data=data, headers=HX, csrf=False)
    third = client.post(kiosk_path(point), data={**data, "comment": "换了内容"}, csrf=False)
    assert feedback_count() == 1
    codes_shown = {query_code(text(r)) for r in (first, second, third)}
    assert len(codes_shown) == 1  # the retry shows the same 查询码, not a new one


def test_the_honeypot_flags_spam_and_keeps_it(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "rating": "1", "website": "http://spam.example",
                                                     "comment": "bot"}, csrf=False)
    assert response.status_code == 200 and query_code(text(response))  # the bot learns nothing
    row = received("bot")
    assert row.is_spam and row.spam_reasons == "honeypot"


def test_without_consent_no_contact_data_is_stored(client, point):
    fields = open_form(client, kiosk_path(point))
    client.post(kiosk_path(point), data={**fields, "rating": "2", "comment": "没勾同意", "contact": "13800138000"},
                csrf=False)
    row = received("没勾同意")
    assert (row.contact_phone, row.contact_email, row.contact_name, row.contact_consent_at) == ("", "", "", None)


def test_with_consent_the_contact_and_its_purpose_are_stored(client, point):
    fields = open_form(client, kiosk_path(point))
    client.post(kiosk_path(point), data={**fields, "rating": "2", "comment": "请回电", "contact": "138 0013 8000",
                                         "consent": "y"}, csrf=False)
    row = received("请回电")
    assert row.contact_phone == "13800138000" and row.contact_consent_at is not None
    assert "联系" in row.contact_purpose


def test_a_missing_rating_is_a_chinese_error_and_keeps_what_was_typed(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "comment": "忘了选"}, headers=HX, csrf=False)
    assert response.status_code == 422
    html = text(response)
    assert "请选择" in html and "忘了选" in html
    assert feedback_count() == 0


@pytest.mark.parametrize("path", ["/k/KF01/aaaaaaaaaa", "/k/NOPE/aaaaaaaaaa", "/k/KF01/", "/k/KF01/x"])
def test_a_forged_or_unknown_kiosk_url_is_a_404(client, point, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "二维码" in text(response)


def test_an_inactive_point_is_a_404(client):
    point = make_point("OFF1", active=False)
    assert client.get(kiosk_path(point)).status_code == 404


def test_a_tampered_form_token_is_refused_with_a_chinese_page(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "form_token": fields["form_token"][:-3] + "abc",
                                                     "rating": "5"}, csrf=False)
    assert response.status_code == 400 and "重新扫" in text(response)
    assert feedback_count() == 0


def test_a_token_of_another_point_is_refused(client, point):
    other = make_point("KF02")
    fields = open_form(client, kiosk_path(other))
    response = client.post(kiosk_path(point), data={**fields, "rating": "5"}, csrf=False)
    assert response.status_code == 400 and feedback_count() == 0


def test_a_staff_code_names_the_clerk(client, point):
    clerk = create_user("clerk1", display_name="王柜员")
    staff_code = make_staff_code(point, clerk)
    html = text(client.get(kiosk_path(point, staff_code)))
    assert "王柜员" in html
    fields = open_form(client, kiosk_path(point, staff_code))
    client.post(kiosk_path(point, staff_code), data={**fields, "rating": "5", "comment": "王柜员很耐心"}, csrf=False)
    row = received("王柜员很耐心")
    assert row.staff_user_id == clerk.id and row.service_point_id == point.id


# -- 查询码 ----------------------------------------------------------------------------------------------
def _submit(client, point, **data) -> str:
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "rating": "2", **data}, csrf=False)
    return query_code(text(response))


def test_the_query_code_page_shows_status_and_no_personal_data(client, point):
    code = _submit(client, point, comment="我的电话13912345678", contact="13912345678", consent="y")
    page = client.get(f"/q/{code}")
    html = assert_full_page(page)
    assert "一号窗口" in html and "13912345678" not in html and "我的电话" not in html
    lower = client.get(f"/q/{code.lower().replace('-', '')}")  # typed in lower case, without the hyphen
    assert lower.status_code == 200


def test_an_unknown_query_code_is_a_chinese_404(client, point):
    response = client.get("/q/ABCD-EFGH")
    assert response.status_code == 404 and "查询码" in text(response)


def test_the_lookup_form_takes_a_code(client, point):
    code = _submit(client, point)
    response = client.post("/q", data={"code": code.lower()})
    assert response.status_code == 303 and response.headers["Location"].endswith(code.replace("-", ""))
    bad = client.post("/q", data={"code": "0000"}, headers=HX)
    assert bad.status_code == 422


def test_the_customer_rates_the_resolution_once_it_is_resolved(client, point):
    from portal.core.types import utcnow

    code = _submit(client, point, comment="要回复")
    row = received("要回复")
    refused = client.post(f"/q/{code}/rate", data={"rating": "5"})
    assert refused.status_code == 422  # not resolved yet
    row.reply, row.resolved_at = "已经整改，感谢反馈。", utcnow()
    db.session.commit()
    page = text(client.get(f"/q/{code}"))
    assert "已经整改" in page and 'name="rating"' in page
    assert client.post(f"/q/{code}/rate", data={"rating": "4"}).status_code == 303
    assert client.post(f"/q/{code}/rate", data={"rating": "1"}).status_code == 303  # a second tap changes nothing
    db.session.refresh(row)
    assert row.resolution_rating == 4
