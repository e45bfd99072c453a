"""The overdue ladder (issue 11, item 7): overdue marking, the employee → head → quality manager steps counted in
the calendar's working days (holidays send nothing, a 调休 Saturday counts), each step once, repeated runs
idempotent; the sweep of obsolete documents' assignments; the digest sections 我的培训 and 本部门逾期培训 and
their query counts; the to-dos.

The calendar around National Day 2025 (chinese_calendar): Fri 09-26 working, Sat 09-27 off, Sun 09-28 a 调休
working day, 09-29 and 09-30 working, 10-01 … 10-08 holiday, 10-09 and 10-10 working, Sat 10-11 a 调休 working
day, Sun 10-12 off.
"""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.notify.models import Notification
from portal.sop import services as sop_services
from portal.training import jobs, ladder, services
from portal.training.models import (ADD_USER, LADDER_EMPLOYEE, LADDER_HEAD, LADDER_NONE, LADDER_QM, NOT_APPLICABLE, OPEN,
                                    TrainingAssignment)
from portal.workcal.services import is_workday, set_override
from tests.documents import effective_document
from tests.helpers import DEFAULT_PASSWORD, audit, count_queries
from tests.training.helpers import assignments


def _due(document, day: date, users=None) -> None:
    """Move the due date of ``document``'s open assignments (of ``users``) to ``day``."""
    where = [TrainingAssignment.document_id == document.id, TrainingAssignment.status == OPEN]
    if users is not None:
        where.append(TrainingAssignment.user_id.in_([u.id for u in users]))
    db.session.execute(sa.update(TrainingAssignment).where(*where).values(due_on=day))
    db.session.expire_all()


def _notes(kind: str, user=None) -> list[Notification]:
    query = sa.select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    if user is not None:
        query = query.where(Notification.recipient_id == user.id)
    return list(db.session.scalars(query))


def _escalation(document, user) -> int:
    [assignment] = assignments(document, user=user)
    return assignment.escalation


def _add_people(document, org, *users) -> None:
    for user in users:
        services.add_rule(org.qm, document.id, ADD_USER, user_id=user.id)


@pytest.fixture
def doc(org):
    """客户投诉处理规范 (T-03, R 运营部: its head and 王五), effective, with two people of 客服部 added by name
    (客服员工 and the author): four open assignments in two departments."""
    document = effective_document(org.author, org)
    _add_people(document, org, org.employee, org.author)
    assert {a.user_id for a in assignments(document, status=OPEN)} == {
        org.employee.id, org.author.id, org.other.id, org.heads["YY"].id}
    return document


def test_the_calendar_is_what_the_tests_assume():
    assert [is_workday(date(2025, 9, d)) for d in (26, 27, 28, 29, 30)] == [True, False, True, True, True]
    assert not any(is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert [is_workday(date(2025, 10, d)) for d in (9, 10, 11, 12, 13)] == [True, True, True, False, True]


def test_each_step_fires_once_on_working_days(org, doc):
    """Due Friday 09-26: overdue on the Saturday (marked, nothing sent), the employee hears on the 调休 Sunday
    (1 working day), the head on 09-30 (3), nobody over the holiday, the quality manager on 10-16 (10)."""
    emp, head, qm = org.employee, org.heads["KF"], org.qm
    _due(doc, date(2025, 9, 26))
    kf_open = len(assignments(doc, user=None, status=OPEN))

    # Friday, the due date itself: not overdue yet.
    assert ladder.run_ladder(date(2025, 9, 26))["marked_overdue"] == 0
    # Saturday: marked overdue, but no working day has passed and nothing is sent.
    result = ladder.run_ladder(date(2025, 9, 27))
    assert result == {"closed_obsolete": 0, "marked_overdue": kf_open, "employee": 0, "head": 0,
                      "quality_manager": 0, "workday": False}
    assert all(a.overdue_at is not None and a.escalation == LADDER_NONE for a in assignments(doc))
    assert _notes(ladder.KIND_OVERDUE) == []

    # The 调休 Sunday is a working day: step 1 for everyone, one notification each.
    result = ladder.run_ladder(date(2025, 9, 28))
    assert (result["employee"], result["head"], result["quality_manager"]) == (kf_open, 0, 0)
    [note] = _notes(ladder.KIND_OVERDUE, emp)
    [mine] = assignments(doc, user=emp)
    assert note.link == f"/training/a/{mine.id}" and doc.code in note.title
    assert _escalation(doc, emp) == LADDER_EMPLOYEE
    # The same day again, and the next working day (2 working days): nothing new.
    assert ladder.run_ladder(date(2025, 9, 28))["employee"] == 0
    assert ladder.run_ladder(date(2025, 9, 29)) == {"closed_obsolete": 0, "marked_overdue": 0, "employee": 0,
                                                   "head": 0, "quality_manager": 0, "workday": True}
    assert len(_notes(ladder.KIND_OVERDUE, emp)) == 1 and _notes(ladder.KIND_ESCALATED) == []

    # 09-30, the third working day: the heads of 客服部 and 运营部, one notification per department.
    result = ladder.run_ladder(date(2025, 9, 30))
    assert result["head"] == kf_open and result["quality_manager"] == 0
    [to_head] = _notes(ladder.KIND_ESCALATED, head)
    kf_people = {a.user_id for a in assignments(doc) if a.user.department_id == org.depts["KF"].id}
    assert to_head.link == f"/training/matrix?dept={org.depts['KF'].id}&status=overdue"
    assert org.depts["KF"].name in to_head.title and f"{len(kf_people)}" in to_head.title
    assert len(_notes(ladder.KIND_ESCALATED, org.heads["YY"])) == 1
    assert _escalation(doc, emp) == LADDER_HEAD

    # The National Day holiday: nothing is sent, nothing climbs.
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    for day in range(1, 9):
        assert ladder.run_ladder(date(2025, 10, day))["workday"] is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == before
    # 10-09 … 10-15 are working days 4 … 9 (the 调休 Saturday 10-11 among them): still nothing.
    for day in (9, 10, 11, 12, 13, 14, 15):
        assert ladder.run_ladder(date(2025, 10, day))["quality_manager"] == 0
    assert _notes(ladder.KIND_ESCALATED, qm) == []
    # 10-16, the tenth working day: the quality managers, once.
    assert ladder.run_ladder(date(2025, 10, 16))["quality_manager"] == kf_open
    assert ladder.run_ladder(date(2025, 10, 17))["quality_manager"] == 0
    [to_qm] = _notes(ladder.KIND_ESCALATED, qm)
    assert to_qm.link == "/training/matrix?status=overdue"
    assert org.depts["KF"].name in to_qm.body and org.depts["YY"].name in to_qm.body
    assert all(a.escalation == LADDER_QM for a in assignments(doc))
    # every person heard once, every head once, the manager once
    assert len(_notes(ladder.KIND_OVERDUE, emp)) == 1 and len(_notes(ladder.KIND_ESCALATED, head)) == 1


def test_over_a_holiday_the_steps_wait_for_the_next_working_day_and_a_make_up_saturday_counts(org, doc):
    """Due 09-30: overdue during the holiday (marked, silent); the employee hears on 10-09, the head on the 调休
    Saturday 10-11 (the third working day), nothing on the Sunday after."""
    _due(doc, date(2025, 9, 30))
    for day in range(1, 9):
        result = ladder.run_ladder(date(2025, 10, day))
        assert (result["employee"], result["head"]) == (0, 0)
    assert all(a.overdue_at is not None for a in assignments(doc)) and _notes(ladder.KIND_OVERDUE) == []
    assert ladder.run_ladder(date(2025, 10, 9))["employee"] > 0
    assert ladder.run_ladder(date(2025, 10, 10))["head"] == 0
    assert ladder.run_ladder(date(2025, 10, 11))["head"] > 0  # Saturday, a working day
    assert len(_notes(ladder.KIND_ESCALATED, org.heads["KF"])) == 1
    assert ladder.run_ladder(date(2025, 10, 12)) == {"closed_obsolete": 0, "marked_overdue": 0, "employee": 0,
                                                    "head": 0, "quality_manager": 0, "workday": False}


def test_a_late_first_run_fires_every_step_reached_once(org, doc):
    """An assignment already 10 working days overdue when the ladder first sees it gets all three steps in one
    run, each once; a second run sends nothing."""
    _due(doc, date(2025, 9, 26), users=[org.employee])
    result = ladder.run_ladder(date(2025, 10, 16))
    assert (result["employee"], result["head"], result["quality_manager"]) == (1, 1, 1)
    assert _escalation(doc, org.employee) == LADDER_QM
    assert len(_notes(ladder.KIND_OVERDUE, org.employee)) == 1
    assert len(_notes(ladder.KIND_ESCALATED, org.heads["KF"])) == 1
    assert len(_notes(ladder.KIND_ESCALATED, org.qm)) == 1
    assert _notes(ladder.KIND_ESCALATED, org.heads["YY"]) == []  # the others are not due yet
    assert ladder.run_ladder(date(2025, 10, 16))["employee"] == 0
    assert len(_notes(ladder.KIND_ESCALATED)) == 2


def test_a_person_with_several_overdue_trainings_gets_one_notification(org, doc):
    second = effective_document(org.author, org, title="投诉回访规范")
    _add_people(second, org, org.employee)
    _due(doc, date(2025, 9, 26), users=[org.employee])
    _due(second, date(2025, 9, 26), users=[org.employee])
    assert ladder.run_ladder(date(2025, 9, 29))["employee"] == 2
    [note] = _notes(ladder.KIND_OVERDUE, org.employee)
    assert note.link == "/training/" and "2" in note.title
    assert doc.code in note.body and second.code in note.body


def test_an_overridden_day_off_sends_nothing(org, doc, admin):
    _due(doc, date(2025, 9, 26))
    set_override(admin, date(2025, 9, 29), False, "停电")
    assert ladder.run_ladder(date(2025, 9, 29))["workday"] is False
    assert _notes(ladder.KIND_OVERDUE) == []


def test_the_thresholds_come_from_the_configuration(app, org, doc, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_TRAINING_ESCALATE_HEAD_DAYS", 1)
    monkeypatch.setitem(app.config, "PORTAL_TRAINING_ESCALATE_QM_DAYS", 2)
    _due(doc, date(2025, 9, 26), users=[org.employee])
    result = ladder.run_ladder(date(2025, 9, 28))
    assert (result["employee"], result["head"], result["quality_manager"]) == (1, 1, 0)
    assert ladder.run_ladder(date(2025, 9, 29))["quality_manager"] == 1
    monkeypatch.setitem(app.config, "PORTAL_TRAINING_ESCALATE_QM_DAYS", 0)  # never before the head
    assert ladder.escalation_days() == (1, 1)


def test_working_days_overdue_and_the_cutoff_agree():
    for due in (date(2025, 9, 26), date(2025, 9, 30), date(2025, 10, 10)):
        for today in (date(2025, 10, 9), date(2025, 10, 11), date(2025, 10, 16)):
            for n in (1, 3, 10):
                assert (due < ladder.overdue_cutoff(today, n)) == (ladder.working_days_overdue(due, today) >= n)
    assert ladder.working_days_overdue(date(2025, 9, 26), date(2025, 10, 16)) == 10


def test_completed_and_waived_assignments_do_not_climb(org, doc):
    _due(doc, date(2025, 9, 26))
    [mine] = assignments(doc, user=org.employee)
    services.mark_opened(org.employee, mine.id)
    assert services.sign_off(org.employee, mine.id, password=DEFAULT_PASSWORD, understood=True).signed
    [theirs] = assignments(doc, user=org.other)
    services.waive(org.heads["YY"], theirs.id, "已在原单位培训")
    ladder.run_ladder(date(2025, 10, 16))
    assert _notes(ladder.KIND_OVERDUE, org.employee) == [] and _notes(ladder.KIND_OVERDUE, org.other) == []
    assert _escalation(doc, org.employee) == LADDER_NONE
    assert _notes(ladder.KIND_OVERDUE, org.author) != []


def test_the_job_commits_audits_once_per_run_and_is_idempotent(org, doc):
    _due(doc, date(2025, 9, 26))
    first = jobs.overdue_ladder("2025-09-30")
    assert first["employee"] > 0 and first["head"] == first["employee"]
    [event] = audit("training.ladder")
    assert event.actor_id is None and event.summary["day"] == "2025-09-30"
    assert event.summary["employee"] == first["employee"] and event.summary["head"] == first["head"]
    notes = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    second = jobs.overdue_ladder("2025-09-30")
    assert second == {"closed_obsolete": 0, "marked_overdue": 0, "employee": 0, "head": 0, "quality_manager": 0,
                      "workday": True}
    assert len(audit("training.ladder")) == 1  # a run that changed nothing leaves no event
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == notes


def test_the_ladder_is_scheduled_and_its_kinds_and_labels_registered(app):
    from portal.audit.registry import action_labels
    from portal.core.registry import cron_jobs
    from portal.notify.registry import notification_kinds

    cron = cron_jobs.get("training_overdue_ladder")
    assert cron is not None and cron.cron == "30 7 * * *" and cron.func is jobs.overdue_ladder
    assert {ladder.KIND_OVERDUE, ladder.KIND_ESCALATED} <= set(notification_kinds.keys())
    assert "training.ladder" in action_labels


# -- the obsolete sweep ---------------------------------------------------------------------------
def test_the_sweep_closes_the_open_assignments_of_an_obsolete_document(org, doc):
    [mine] = assignments(doc, user=org.employee)
    services.mark_opened(org.employee, mine.id)
    services.sign_off(org.employee, mine.id, password=DEFAULT_PASSWORD, understood=True)
    open_before = len(assignments(doc, status=OPEN))
    sop_services.make_obsolete(sop_services.approver_of(doc), doc, DEFAULT_PASSWORD, "业务取消")
    result = jobs.overdue_ladder(services.local_today().isoformat())
    assert result["closed_obsolete"] == open_before
    assert assignments(doc, status=OPEN) == []
    closed = assignments(doc, status=NOT_APPLICABLE)
    assert len(closed) == open_before and all(a.closed_reason and a.closed_by_id is None for a in closed)
    assert [a.status for a in assignments(doc, user=org.employee)] == ["done"]  # the record stays
    [event] = [e for e in audit("training.not_applicable") if e.object_type == "sop_document"
               and e.object_id == str(doc.id)]
    assert event.summary["count"] == open_before and event.actor_id is None
    assert jobs.overdue_ladder(services.local_today().isoformat())["closed_obsolete"] == 0


def test_the_sweep_also_closes_a_document_without_an_effective_version(org, doc):
    other = effective_document(org.author, org, title="投诉回访规范")
    db.session.execute(sa.update(type(doc)).where(type(doc).id == doc.id).values(current_version_id=None))
    assert ladder.close_obsolete_assignments() == len(assignments(doc, status=NOT_APPLICABLE)) > 0
    assert assignments(other, status=OPEN) != []


# -- digest sections ------------------------------------------------------------------------------
def test_my_training_section_lists_open_assignments_overdue_first(org, doc):
    second = effective_document(org.author, org, title="投诉回访规范")
    _add_people(second, org, org.employee)
    _due(doc, date(2025, 10, 20), users=[org.employee])
    _due(second, date(2025, 10, 10), users=[org.employee])
    items = ladder.digest_my_trainings([org.employee], date(2025, 10, 15))[org.employee.id]
    [a_second] = assignments(second, user=org.employee)
    [a_doc] = assignments(doc, user=org.employee)
    assert [i.link for i in items] == [f"/training/a/{a_second.id}", f"/training/a/{a_doc.id}"]
    assert second.code in items[0].title and "2025-10-10" in items[0].detail
    assert items[0].detail != items[1].detail  # overdue since … / due by …
    assert org.zh_member.id not in ladder.digest_my_trainings([org.zh_member], date(2025, 10, 15))


def test_department_overdue_section_goes_to_the_heads_only(org, doc):
    _due(doc, date(2025, 10, 10), users=[org.employee])
    day = date(2025, 10, 15)
    answer = ladder.digest_department_overdue([org.heads["KF"], org.heads["YY"], org.employee, org.qm], day)
    assert set(answer) == {org.heads["KF"].id}
    [item] = answer[org.heads["KF"].id]
    assert org.employee.display_name in item.title and doc.code in item.title


@pytest.mark.parametrize("provider", [ladder.digest_my_trainings, ladder.digest_department_overdue])
def test_digest_sections_run_a_fixed_number_of_queries_per_batch(org, doc, provider):
    day = date(2025, 10, 15)
    _due(doc, date(2025, 10, 10))
    users = [org.heads["KF"], org.heads["YY"], org.employee, org.other, org.author, org.qm]
    assert all(u.id for u in users)  # loaded: what the digest hands the providers
    with count_queries() as one:
        provider([org.heads["KF"]], day)
    with count_queries() as many:
        answer = provider(users, day)
    assert len(many) == len(one) <= 2
    assert answer  # the bigger batch has items


def test_the_digest_shows_both_sections(org, doc):
    from portal.notify.digest import preview

    _due(doc, date(2025, 10, 10))
    sections = {s["key"]: s for s in preview(org.heads["YY"], date(2025, 10, 15))}
    assert {"training.mine", "training.department_overdue"} <= set(sections)


# -- to-dos ---------------------------------------------------------------------------------------
def test_my_open_trainings_are_to_dos_urgent_when_overdue(org, doc):
    from portal.home.registry import todo_items

    second = effective_document(org.author, org, title="投诉回访规范")
    _add_people(second, org, org.employee)
    _due(doc, date(2000, 1, 1), users=[org.employee])
    items = [i for i in todo_items(org.employee) if i.url.startswith("/training/a/")]
    [a_doc] = assignments(doc, user=org.employee)
    [a_second] = assignments(second, user=org.employee)
    assert [(i.url, i.urgent) for i in items] == [(f"/training/a/{a_doc.id}", True),
                                                  (f"/training/a/{a_second.id}", False)]


def test_a_head_has_one_to_do_for_the_departments_overdue_trainings(org, doc):
    from portal.home.registry import todo_items

    def head_items(user):
        return [i for i in todo_items(user) if i.url.startswith("/training/matrix")]

    assert head_items(org.heads["KF"]) == []
    _due(doc, date(2000, 1, 1), users=[org.employee, org.author])
    [item] = head_items(org.heads["KF"])
    kf = org.depts["KF"]
    assert item.url == f"/training/matrix?dept={kf.id}&status=overdue" and item.urgent
    assert "2" in item.title and kf.name in item.title
    assert head_items(org.heads["YY"]) == [] and head_items(org.employee) == []
