"""Tickets: routing (point, matrix, category rules), priority and the 差评 loop's call-back guard, the lifecycle,
reassignment with a reason, merging with both histories, and department isolation — through the services."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import services
from portal.triage.models import (ACCEPTED, AWAITING_CUSTOMER, BY_CATEGORY, BY_MATRIX, BY_POINT, CLOSED, HIGH,
                                  IN_PROGRESS, NEW, NORMAL, RESOLVED, RoutingRule, Ticket, TicketPause)
from tests.helpers import audit, count
from tests.triage.helpers import point, rate


def test_an_item_lands_in_its_points_department_once(org):
    kf = point(org, "KF01", "KF")
    ticket = rate(kf, 5, key="k-1")
    assert (ticket.department_id, ticket.routed_by, ticket.status, ticket.priority) == (
        org.depts["KF"].id, BY_POINT, NEW, NORMAL)
    rate(kf, 5, key="k-1")  # the same intake again: the feedback row is found, no second ticket
    assert count(Ticket) == 1


def test_the_matrix_routes_a_points_process_to_its_r_department(org):
    # The point belongs to 客服部 (A of T-03), whose R department is 运营部.
    kf = point(org, "KF02", "KF", process="T-03")
    ticket = rate(kf, 4)
    assert (ticket.department_id, ticket.routed_by) == (org.depts["YY"].id, BY_MATRIX)
    # A point whose department is R for its process stays there.
    yy = point(org, "YY01", "YY", process="T-03")
    assert rate(yy, 4).department_id == org.depts["YY"].id


def test_a_category_rule_overrides(org):
    db.session.add(RoutingRule(category="收费", department_id=org.depts["ZH"].id, created_by_id=org.qm.id))
    db.session.flush()
    ticket = rate(point(org, "KF03", "KF", process="T-03"), 3, categories=["等候时间", "收费"])
    assert (ticket.department_id, ticket.routed_by) == (org.depts["ZH"].id, BY_CATEGORY)


def test_a_bad_rating_is_high_priority_and_a_consented_one_needs_a_call_back(org):
    kf = point(org, "KF04", "KF")
    quiet = rate(kf, 2)
    assert (quiet.priority, quiet.negative, quiet.callback_required) == (HIGH, True, False)
    loud = rate(kf, 1, comment="等了一个小时", contact="13800138000", consent=True)
    assert (loud.priority, loud.callback_required) == (HIGH, True)
    head = org.heads["KF"]
    services.set_status(head, loud.id, IN_PROGRESS)
    with pytest.raises(ServiceError) as refused:
        services.set_status(head, loud.id, RESOLVED)
    assert "回访" in str(refused.value)
    with pytest.raises(ServiceError):  # before the feedback came in
        services.record_callback(head, loud.id, called_at=loud.received_at - timedelta(minutes=5), outcome="reached",
                                 note="")
    services.record_callback(head, loud.id, called_at=utcnow(), outcome="reached",
                             note="已致歉，客户接受")
    services.set_status(head, loud.id, RESOLVED)
    assert loud.status == RESOLVED and loud.resolved_at is not None
    # Without consent there is nobody to call: it resolves.
    services.set_status(head, quiet.id, RESOLVED)


def test_the_lifecycle_and_the_clock_stopping_while_awaiting_the_customer(org):
    ticket = rate(point(org, "KF05", "KF"), 3)
    member = org.kf_member
    services.set_status(member, ticket.id, ACCEPTED)
    assert ticket.first_response_at is not None and ticket.accepted_at is not None
    services.set_status(member, ticket.id, IN_PROGRESS)
    services.set_status(member, ticket.id, AWAITING_CUSTOMER)
    assert ticket.paused_at is not None
    services.set_status(member, ticket.id, IN_PROGRESS)
    pauses = list(db.session.scalars(sa.select(TicketPause).where(TicketPause.ticket_id == ticket.id)))
    assert len(pauses) == 1 and pauses[0].resumed_at is not None and ticket.paused_at is None
    services.set_status(member, ticket.id, RESOLVED)
    services.set_status(member, ticket.id, IN_PROGRESS)  # reopened
    assert ticket.resolved_at is None
    services.set_status(member, ticket.id, RESOLVED)
    services.set_status(member, ticket.id, CLOSED)
    with pytest.raises(ServiceError):
        services.set_status(member, ticket.id, IN_PROGRESS)
    assert [e.summary["after"]["status"] for e in audit("triage.status")] == [
        ACCEPTED, IN_PROGRESS, AWAITING_CUSTOMER, IN_PROGRESS, RESOLVED, IN_PROGRESS, RESOLVED, CLOSED]


def test_a_stale_status_change_is_a_conflict(org):
    ticket = rate(point(org, "KF06", "KF"), 3)
    # Someone else, on another connection: this session still holds the ticket as new.
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(status=ACCEPTED),
                       execution_options={"synchronize_session": False})
    with pytest.raises(Conflict):
        services.set_status(org.kf_member, ticket.id, ACCEPTED)


def test_reassignment_needs_a_reason_and_is_audited(org):
    ticket = rate(point(org, "KF07", "KF"), 2)
    with pytest.raises(PermissionDenied):
        services.reassign(org.kf_member, ticket.id, org.depts["YY"].id, "不属本部门")
    with pytest.raises(ServiceError) as refused:
        services.reassign(org.heads["KF"], ticket.id, org.depts["YY"].id, " ")
    assert refused.value.errors[0][0] == "reason"
    services.reassign(org.heads["KF"], ticket.id, org.depts["YY"].id, "柜面业务，转运营部")
    assert ticket.department_id == org.depts["YY"].id
    event = audit("triage.reassign", ticket)[-1]
    assert event.summary["reason"] == "柜面业务，转运营部"
    # Now 客服部 no longer sees it.
    with pytest.raises(NotFound):
        services.get_ticket(org.heads["KF"], ticket.id)


def test_department_isolation(org):
    ticket = rate(point(org, "KF08", "KF"), 1)
    for outsider in (org.heads["YY"], org.yy_member):
        for action in (lambda u: services.get_ticket(u, ticket.id),
                       lambda u: services.set_status(u, ticket.id, ACCEPTED),
                       lambda u: services.add_note(u, ticket.id, "看一下"),
                       lambda u: services.assign(u, ticket.id, u.id),
                       lambda u: services.reassign(u, ticket.id, org.depts["YY"].id, "抢单"),
                       lambda u: services.set_spam(u, ticket.id, True)):
            with pytest.raises(NotFound):
                action(outsider)
    assert services.get_ticket(org.qm, ticket.id) is ticket  # the quality manager sees every queue
    assert services.get_ticket(org.kf_member, ticket.id) is ticket


def test_assignment_within_the_department(org):
    ticket = rate(point(org, "KF09", "KF"), 3)
    services.assign(org.kf_member, ticket.id, org.kf_member.id)  # a member takes it
    with pytest.raises(ServiceError):
        services.assign(org.heads["KF"], ticket.id, org.yy_member.id)  # not a member of the queue's department
    with pytest.raises(PermissionDenied):
        services.assign(org.kf_member, ticket.id, org.heads["KF"].id)  # members do not hand out work


def test_merging_keeps_both_histories(org):
    kf = point(org, "KF10", "KF")
    first, second = rate(kf, 2, comment="窗口人员态度差"), rate(kf, 2, comment="窗口人员态度差（重复）")
    head = org.heads["KF"]
    services.add_note(head, first.id, "已调取录像")
    services.add_note(head, second.id, "同一客户再次提交", request_key="n-1")
    services.add_note(head, second.id, "同一客户再次提交", request_key="n-1")  # a double click: one note
    services.merge(head, second.id, first.id)
    assert (second.duplicate_of_id, second.status) == (first.id, CLOSED)
    merged = [(e.ticket_id, e.kind, e.body) for e in services.history(first)]
    assert (first.id, "note", "已调取录像") in merged and (second.id, "note", "同一客户再次提交") in merged
    assert [e.ticket_id for e in services.history(second)] == [second.id, second.id]  # its own, kept
    other_queue = rate(point(org, "YY02", "YY"), 2)
    with pytest.raises(NotFound):
        services.merge(head, first.id, other_queue.id)  # a foreign id smuggled in
