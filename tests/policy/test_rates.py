"""Acknowledgement rates per department, the non-acknowledgers, reminders and the digest section."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.extensions import db
from portal.notify.digest import preview
from portal.notify.models import Notification
from portal.notify.registry import digest_sections, get_kind
from portal.org.models import User
from portal.core.roles import EMPLOYEE
from portal.policy import services
from tests.helpers import HX, assert_full_page, assert_partial, audit, count_queries, flashes, msg, text
from tests.policy.helpers import POLICY_TITLE, publish_version

BASE = "/quality/policy"
ROW_RE = re.compile(r'<tr id="rate-(\w+)" data-active="(\d+)" data-acknowledged="(\d+)"')


def rows(markup: str) -> dict[str, tuple[int, int]]:
    return {key: (int(active), int(acked)) for key, active, acked in ROW_RE.findall(markup)}


def reminders(user=None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.kind == services.REMINDER_KIND)
    if user is not None:
        stmt = stmt.where(Notification.recipient_id == user.id)
    return list(db.session.scalars(stmt.order_by(Notification.id)))


# == rates ==========================================================================================
def test_rates_per_department_count_active_users_only(org, published):
    services.acknowledge(org.employee, published)  # 客服部: 张三
    services.acknowledge(org.head_ops, published)  # 运营部: the head
    services.acknowledge(org.quality, published)  # 质量管理部
    report = services.acknowledgement_rates(org.quality, published)
    by_id = {r.department_id: r for r in report.rows}
    # 客服部: head, 张三, 李四 active (the deactivated user does not count)
    kf = by_id[org.kf.id]
    assert (kf.active_users, kf.acknowledged, kf.pending) == (3, 1, 2)
    assert kf.rate == pytest.approx(1 / 3) and kf.percent == 33.3
    ops = by_id[org.ops.id]
    assert (ops.active_users, ops.acknowledged, ops.percent) == (2, 1, 50.0)
    qa = by_id[org.qa.id]
    assert (qa.active_users, qa.acknowledged) == (2, 1)
    # an acknowledgement of an older version does not count for the current one
    second = publish_version(org.quality, org.admin, title="第二版")
    report = services.acknowledgement_rates(org.admin, second)
    assert {r.department_id: r.acknowledged for r in report.rows if r.department_id in (org.kf.id, org.ops.id)} == {
        org.kf.id: 0, org.ops.id: 0}


def test_deactivated_acknowledger_leaves_the_rate(org, published):
    services.acknowledge(org.lisi, published)
    org.lisi.active = False
    db.session.flush()
    kf = {r.department_id: r for r in services.acknowledgement_rates(org.quality, published).rows}[org.kf.id]
    assert (kf.active_users, kf.acknowledged) == (2, 0)


def test_users_without_department_are_shown_to_managers(org, published, make_user):
    loner = make_user("loner_t", roles=(EMPLOYEE,))
    loner.department = None
    db.session.flush()
    report = services.acknowledgement_rates(org.quality, published)
    [none_row] = [r for r in report.rows if r.department_id is None]
    assert (none_row.active_users, none_row.acknowledged) == (1, 0)
    assert all(r.department_id is not None for r in services.acknowledgement_rates(org.head_kf, published).rows)


def test_department_head_sees_only_own_department(org, published):
    report = services.acknowledgement_rates(org.head_kf, published)
    assert [r.department_id for r in report.rows] == [org.kf.id]
    dept, users = services.non_acknowledgers(org.head_kf, published, org.kf.id)
    assert dept == org.kf and [u.username for u in users] == ["head_kf_t", "lisi_t", "zhangsan_t"]
    with pytest.raises(NotFound):
        services.non_acknowledgers(org.head_kf, published, org.ops.id)
    with pytest.raises(NotFound):
        services.send_reminders(org.head_kf, published, org.ops.id)
    with pytest.raises(NotFound):
        services.non_acknowledgers(org.quality, published, 999999)
    for call in (lambda: services.acknowledgement_rates(org.employee, published),
                 lambda: services.non_acknowledgers(org.employee, published, org.kf.id),
                 lambda: services.send_reminders(org.employee, published, org.kf.id)):
        with pytest.raises(PermissionDenied):
            call()


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_rates_view(client_for, org, published, hx):
    services.acknowledge(org.employee, published)
    headers = HX if hx else None
    check = assert_partial if hx else assert_full_page
    body = check(client_for(org.quality).get(f"{BASE}/acknowledgements", headers=headers))
    found = rows(body)
    assert found[str(org.kf.id)] == (3, 1) and found[str(org.ops.id)] == (2, 0) and found[str(org.qa.id)] == (2, 0)
    assert "33.3%" in body and f'href="{BASE}/acknowledgements/{org.kf.id}"' in body
    head = check(client_for(org.head_kf).get(f"{BASE}/acknowledgements", headers=headers))
    assert set(rows(head)) == {str(org.kf.id)}


def test_rates_view_without_a_published_policy(client_for, org):
    body = assert_full_page(client_for(org.quality).get(f"{BASE}/acknowledgements"))
    assert 'id="rate-table"' not in body
    assert client_for(org.employee).get(f"{BASE}/acknowledgements").status_code == 403


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_pending_list_and_the_head_404_rule(client_for, org, published, hx):
    services.acknowledge(org.employee, published)
    headers = HX if hx else None
    check = assert_partial if hx else assert_full_page
    head = client_for(org.head_kf)
    body = check(head.get(f"{BASE}/acknowledgements/{org.kf.id}", headers=headers))
    listed = [int(i) for i in re.findall(r'id="pending-user-(\d+)"', body)]
    assert listed == [org.head_kf.id, org.lisi.id]  # not 张三 (acknowledged), not the deactivated user
    assert head.get(f"{BASE}/acknowledgements/{org.ops.id}", headers=headers).status_code == 404
    assert head.post(f"{BASE}/acknowledgements/{org.ops.id}/remind", headers=headers).status_code == 404
    assert reminders() == []
    manager = check(client_for(org.quality).get(f"{BASE}/acknowledgements/{org.ops.id}", headers=headers))
    assert [int(i) for i in re.findall(r'id="pending-user-(\d+)"', manager)] == [org.head_ops.id, org.wangwu.id]


# == reminders ======================================================================================
def test_reminders_once_per_version_department_and_day(org, published, drain_queue):
    services.acknowledge(org.employee, published)
    morning = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    assert services.send_reminders(org.quality, published, org.kf.id, now=morning) == 2
    assert sorted(n.recipient_id for n in reminders()) == sorted([org.head_kf.id, org.lisi.id])
    note = reminders(org.lisi)[0]
    assert note.link == f"{BASE}/" and note.body == POLICY_TITLE and note.department_id == org.kf.id
    assert note.dedupe_key == f"policy.reminder:v1:d{org.kf.id}:2026-03-02"
    [event] = audit("policy.remind")
    assert event.summary["recipients"] == 2 and event.actor_id == org.quality.id

    # a double click, the department head, later the same day: nobody is reminded twice
    assert services.send_reminders(org.quality, published, org.kf.id, now=morning + timedelta(minutes=1)) == 0
    assert services.send_reminders(org.head_kf, published, org.kf.id, now=morning + timedelta(hours=5)) == 0
    assert len(reminders()) == 2 and len(audit("policy.remind")) == 1
    # 运营部 is a separate reminder
    assert services.send_reminders(org.quality, published, org.ops.id, now=morning) == 2
    # the next day reminds again, but not someone who acknowledged meanwhile
    services.acknowledge(org.lisi, published)
    assert services.send_reminders(org.quality, published, org.kf.id, now=morning + timedelta(days=1)) == 1
    assert len(reminders(org.head_kf)) == 2 and len(reminders(org.lisi)) == 1


def test_the_day_of_a_reminder_is_the_local_day(org, published, drain_queue):
    late = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)  # already 01:00 on 3 March in Shanghai
    services.send_reminders(org.quality, published, org.kf.id, now=late)
    assert {n.dedupe_key for n in reminders()} == {f"policy.reminder:v1:d{org.kf.id}:2026-03-03"}


def test_reminders_need_a_published_policy(org):
    with pytest.raises(ServiceError):
        services.send_reminders(org.quality, None, org.kf.id)


def test_reminder_kind_is_registered():
    kind = get_kind(services.REMINDER_KIND)
    assert kind.key == "policy.reminder" and str(kind.label) != "policy.reminder"


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_remind_view_double_click_reminds_once(client_for, org, published, drain_queue, hx):
    manager = client_for(org.quality)
    headers = HX if hx else None
    url = f"{BASE}/acknowledgements/{org.kf.id}/remind"
    pending_url = f"{BASE}/acknowledgements/{org.kf.id}"
    first = manager.post(url, headers=headers)
    first_page = text(manager.get(pending_url))
    second = manager.post(url, headers=headers)
    second_page = text(manager.get(pending_url))
    assert len(reminders()) == 3  # head, 张三, 李四
    assert len(audit("policy.remind")) == 1
    if hx:
        first_body, second_body = assert_partial(first), assert_partial(second)
        assert 'id="reminder-notice"' in first_body and "alert-success" in first_body
        assert "alert-info" in second_body and 'id="pending-users"' in second_body
    else:
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == pending_url
        assert [c for c, _m in flashes(first_page)] == ["success"]
        assert [c for c, _m in flashes(second_page)] == ["info"]
    head = client_for(org.head_kf)
    assert head.post(url, headers=headers).status_code in (200, 303)
    assert len(reminders()) == 3


def test_remind_view_without_a_policy(client_for, org):
    response = client_for(org.quality).post(f"{BASE}/acknowledgements/{org.kf.id}/remind", headers=HX)
    body = assert_partial(response, 422)
    assert msg("There is no published quality policy to remind anyone of.") in body


# == digest =========================================================================================
def _section():
    [section] = [s for s in digest_sections() if s.key == "policy"]
    return section


def test_digest_section_lists_the_policy_for_non_acknowledgers(org, published):
    services.acknowledge(org.employee, published)
    answer = _section().provider([org.employee, org.lisi, org.wangwu], date(2026, 3, 2))
    assert set(answer) == {org.lisi.id, org.wangwu.id}
    [item] = answer[org.lisi.id]
    assert POLICY_TITLE in item.title and item.link == f"{BASE}/"
    assert [s["key"] for s in preview(org.lisi, date(2026, 3, 2)) if s["key"] == "policy"] == ["policy"]
    assert [s["key"] for s in preview(org.employee, date(2026, 3, 2)) if s["key"] == "policy"] == []


def test_digest_section_is_empty_without_a_published_policy(org):
    assert _section().provider([org.employee], date(2026, 3, 2)) == {}


def test_digest_section_runs_a_fixed_number_of_queries(org, published, make_user):
    users = [make_user(department=org.kf) for _ in range(19)] + [org.employee]
    for user in users[::3]:
        services.acknowledge(user, published)
    db.session.flush()
    ids = [u.id for u in users]
    db.session.expire_all()
    batch = list(db.session.scalars(sa.select(User).where(User.id.in_(ids)).order_by(User.id)))
    provider = _section().provider
    with count_queries() as one:
        answer_one = provider(batch[:1], date(2026, 3, 2))
    with count_queries() as twenty:
        answer_twenty = provider(batch, date(2026, 3, 2))
    assert len(batch) == 20
    assert len(one) == len(twenty) == 2, twenty
    assert len(answer_twenty) == 20 - len(users[::3])
    assert len(answer_one) <= 1
