"""多渠道投诉登记: staff record what a customer said by phone, letter, email, 12345, social media or in person."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.feedback import codes, services
from portal.feedback.models import Feedback
from portal.notify.models import Notification
from tests.feedback.helpers import feedback_count, make_point
from tests.helpers import HX, audit, create_department, create_user, text


@pytest.fixture
def setting():
    head = create_user("se_head")
    dept = create_department(name="营业部", head=head)
    point = make_point("YB01", dept, name="营业部一号窗口")
    agent = create_user("hotline_agent")  # in a department of their own: the hotline records for everyone
    db.session.commit()
    return dict(head=head, dept=dept, point=point, agent=agent)


def _form(client) -> dict:
    page = text(client.get("/feedback/new"))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"|id="request_key" name="request_key" type="hidden" value="([^"]+)"', page)
    key = key.group(1) or key.group(2)
    return {"request_key": key, "channel": "hotline_12345", "kind": "complaint", "comment": "市民来电反映排队太久",
            "department_id": "", "service_point_id": ""}


@pytest.mark.parametrize("hx", [False, True])
def test_a_hotline_complaint_joins_the_stream_with_a_query_code(setting, client_for, hx):
    client = client_for(setting["agent"])
    data = _form(client) | {"service_point_id": str(setting["point"].id), "contact_phone": "13800138000",
                            "consent": "y", "contact_name": "王先生"}
    response = client.post("/feedback/new", data=data, headers=HX if hx else {})
    assert response.status_code in (204, 303)
    row = db.session.scalar(sa.select(Feedback).where(Feedback.comment == "市民来电反映排队太久"))
    assert (row.channel, row.kind, row.department_id, row.created_by_id) == (
        "hotline_12345", "complaint", setting["dept"].id, setting["agent"].id)
    assert (row.contact_phone, row.contact_name) == ("13800138000", "王先生") and row.contact_consent_at
    [event] = audit("feedback.receive", row)
    assert event.actor_id == setting["agent"].id
    # the agent sees the 查询码 to read out to the caller
    detail = text(client.get(f"/feedback/{row.id}"))
    code = codes.unseal_query_code(row.query_code_sealed)
    assert codes.display_query_code(code) in detail
    assert services.find_by_query_code(code).id == row.id
    [note] = db.session.scalars(sa.select(Notification).where(Notification.recipient_id == setting["head"].id))
    assert note.kind == services.KIND_COMPLAINT


def test_a_double_click_records_one(setting, client_for):
    client = client_for(setting["agent"])
    data = _form(client) | {"department_id": str(setting["dept"].id)}
    client.post("/feedback/new", data=data)
    client.post("/feedback/new", data=data)
    assert feedback_count() == 1


def test_contact_without_consent_is_refused_and_nothing_stored(setting, client_for):
    client = client_for(setting["agent"])
    data = _form(client) | {"department_id": str(setting["dept"].id), "contact_phone": "13800138000"}
    response = client.post("/feedback/new", data=data, headers=HX)
    assert response.status_code == 422 and "同意" in text(response)
    assert feedback_count() == 0


def test_a_department_or_a_point_is_required(setting, client_for):
    client = client_for(setting["agent"])
    response = client.post("/feedback/new", data=_form(client), headers=HX)
    assert response.status_code == 422 and "部门" in text(response)
    assert feedback_count() == 0


def test_praise_announces_nothing(setting, client_for):
    client = client_for(setting["agent"])
    client.post("/feedback/new", data=_form(client) | {"kind": "praise", "department_id": str(setting["dept"].id),
                                                       "comment": "表扬柜员", "rating": "5"})
    assert feedback_count() == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_a_kiosk_channel_cannot_be_entered_by_staff(setting):
    with pytest.raises(services.ServiceError):
        services.record_staff_entry(setting["agent"], services.StaffEntry(
            channel="kiosk", kind="complaint", department_id=setting["dept"].id, service_point_id=None, rating=None,
            comment="x", contact_name="", contact_phone="", contact_email="", consent=False, request_key="k"))


def test_the_head_reissues_a_lost_query_code(setting, client_for):
    result = services.record_staff_entry(setting["agent"], services.StaffEntry(
        channel="phone", kind="complaint", department_id=setting["dept"].id, service_point_id=None, rating=2,
        comment="来电投诉", contact_name="", contact_phone="", contact_email="", consent=False, request_key="k1"))
    db.session.commit()
    old = result.query_code
    client = client_for(setting["head"])
    response = client.post(f"/feedback/{result.feedback.id}/query-code")
    assert response.status_code == 303
    assert services.find_by_query_code(old) is None
    db.session.refresh(result.feedback)
    new = codes.unseal_query_code(result.feedback.query_code_sealed)
    assert new != old and services.find_by_query_code(new).id == result.feedback.id
    assert audit("feedback.query_code_reissue", result.feedback)
