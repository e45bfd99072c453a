"""Overdue CAPA actions (the owner, then the department's head, then the quality managers, each once however often
the job runs), the digest section 我的纠正预防措施 (a fixed number of queries per batch) and the to-dos."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from portal.capa import ladder, services
from portal.capa.models import EFFECTIVE, CapaAction
from portal.extensions import db
from portal.home.registry import todo_items
from portal.notify.models import Notification
from portal.notify.registry import digest_sections
from tests.helpers import audit, count_queries

# 2026-03-13 is a Friday; the 16th a Monday. Working days overdue: 1 on the 16th, 3 on the 18th, 7 on the 24th.
DUE, MONDAY = date(2026, 3, 13), date(2026, 3, 16)


def _capa(org, dept: str = "KF", title: str = "窗口等候时间过长"):
    return services.open_capa(org.heads[dept], services.CapaFields(
        title=title, problem="差评集中在等候时间", department_id=org.depts[dept].id))


def _action(org, capa, owner, due_on: date, dept: str = "KF", description: str = "调整排班") -> CapaAction:
    action = services.add_action(org.heads[dept], capa.id, description=description, owner_id=owner.id,
                                 due_on=services.local_today())
    action.due_on = due_on  # the past (the form refuses it)
    db.session.flush()
    return action


def _notes(user, kind: str | None = None) -> list[Notification]:
    query = sa.select(Notification).where(Notification.recipient_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))


def test_an_overdue_action_notifies_its_owner_once_then_escalates_once_to_the_head_then_the_qm(org):
    capa = _capa(org)
    late = _action(org, capa, org.kf_member, DUE)
    done = _action(org, capa, org.kf_member, DUE, description="已完成的措施")
    services.complete_action(org.kf_member, done.id)
    _action(org, capa, org.kf_member, MONDAY + timedelta(days=30), description="未到期")
    for _run in range(2):
        result = ladder.run_overdue(MONDAY)
    assert result["owner"] == 0  # the second run sends nothing
    owner_notes = _notes(org.kf_member, ladder.KIND_OVERDUE)
    assert len(owner_notes) == 1 and "调整排班" in owner_notes[0].title
    assert owner_notes[0].link == f"/capa/{capa.id}"
    assert _notes(org.heads["KF"], ladder.KIND_ESCALATED) == [] and _notes(org.qm) == []
    assert db.session.get(CapaAction, late.id).escalation == 1
    assert db.session.get(CapaAction, done.id).escalation == 0
    for _run in range(2):
        ladder.run_overdue(date(2026, 3, 18))
    assert len(_notes(org.heads["KF"], ladder.KIND_ESCALATED)) == 1 and _notes(org.qm) == []
    assert _notes(org.heads["YY"]) == []
    for _run in range(2):
        ladder.run_overdue(date(2026, 3, 24))
    assert len(_notes(org.qm, ladder.KIND_ESCALATED)) == 1
    assert len(_notes(org.heads["KF"], ladder.KIND_ESCALATED)) == 1 and len(_notes(org.kf_member)) == 1
    assert len(audit("capa.overdue_ladder")) == 3


def test_a_late_run_climbs_every_step_once_and_a_weekend_sends_nothing(org):
    _action(org, _capa(org), org.kf_member, DUE)
    assert ladder.run_overdue(date(2026, 3, 21))["workday"] is False  # a Saturday
    assert _notes(org.kf_member) == []
    result = ladder.run_overdue(date(2026, 3, 30))
    assert (result["owner"], result["head"], result["quality_manager"]) == (1, 1, 1)
    assert len(_notes(org.kf_member)) == len(_notes(org.heads["KF"])) == len(_notes(org.qm)) == 1
    assert ladder.run_overdue(date(2026, 3, 31))["sent"] == 0


def test_the_digest_section_lists_my_open_actions_overdue_first_in_a_fixed_number_of_queries(org):
    capa = _capa(org)
    _action(org, capa, org.kf_member, MONDAY + timedelta(days=10), description="增设取号提示")
    _action(org, capa, org.kf_member, DUE, description="调整排班")
    other = _action(org, capa, org.yy_member, MONDAY + timedelta(days=2), description="运营配合")
    done = _action(org, capa, org.kf_member, DUE, description="已完成")
    services.complete_action(org.kf_member, done.id)
    section = next(s for s in digest_sections() if s.key == "capa.my_actions")
    items = section.provider([org.kf_member, org.yy_member, org.heads["ZH"]], MONDAY)
    assert [i.title for i in items[org.kf_member.id]] == ["窗口等候时间过长: 调整排班", "窗口等候时间过长: 增设取号提示"]
    assert items[org.kf_member.id][0].link == f"/capa/{capa.id}"
    assert "2026-03-13" in items[org.kf_member.id][0].detail
    assert [i.title for i in items[org.yy_member.id]] == ["窗口等候时间过长: 运营配合"]
    assert org.heads["ZH"].id not in items
    users = [org.kf_member, org.yy_member, org.heads["ZH"], org.heads["KF"], org.qm]
    assert all(u.id for u in users)  # loaded before counting
    with count_queries() as one:
        section.provider(users[:1], MONDAY)
    with count_queries() as many:
        section.provider(users, MONDAY)
    assert len(one) == len(many) == 1
    assert other.id


def test_to_dos_my_actions_overdue_first_and_the_quality_managers_capas_ready_to_close(org):
    capa = _capa(org)
    _action(org, capa, org.kf_member, services.local_today() + timedelta(days=5), description="增设取号提示")
    _action(org, capa, org.kf_member, DUE, description="调整排班")
    mine = [t for t in todo_items(org.kf_member) if t.url == f"/capa/{capa.id}"]
    assert len(mine) == 2 and mine[0].urgent and "调整排班" in mine[0].title and not mine[1].urgent
    ready = _capa(org, title="已完成待关闭")
    action = services.add_action(org.heads["KF"], ready.id, description="培训", owner_id=org.kf_member.id,
                                 due_on=services.local_today())
    services.complete_action(org.kf_member, action.id)
    assert not [t for t in todo_items(org.qm) if t.url == f"/capa/{ready.id}"]
    ready.effectiveness = EFFECTIVE
    db.session.flush()
    assert [t for t in todo_items(org.qm) if t.url == f"/capa/{ready.id}"]
    assert not [t for t in todo_items(org.heads["KF"]) if t.url == f"/capa/{ready.id}"]
