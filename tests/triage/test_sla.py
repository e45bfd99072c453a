"""Service levels: deadlines in business minutes on fixed dates (a weekend, National Day 2025, a 调休 Saturday),
a paused ticket does not age, each warning fires once however often the scan runs, each rung of the escalation
ladder reaches the right person, the countdown in 工作时间, policies, the digest section and the to-do.

Working hours are the default 09:00–12:00 and 13:30–17:30 (420 minutes a day); every time below is Shanghai time.
The high priority's targets are 60 (first response) and 480 (resolution) business minutes; the head hears of a
breach 120 business minutes after it, the quality managers 480 after it."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied, ServiceError
from portal.extensions import db
from portal.feedback import services as feedback_services
from portal.notify.delivery import sweep
from portal.notify.models import Delivery, Notification
from portal.triage import reply, services, sla
from portal.triage.models import (ACCEPTED, AWAITING_CUSTOMER, HIGH, IN_PROGRESS, LOW, NORMAL, RESOLVED, SlaPolicy,
                                  Ticket, TicketPause)
from tests.helpers import audit, count_queries
from tests.triage.helpers import point, rate

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. at("2025-09-30 17:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def local(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def opened(org, received: str, priority: str = HIGH, *, assignee=None, code: str = "KF01") -> Ticket:
    """A ticket of 客服部 received at ``received``, with the deadlines open_ticket gives it."""
    existing = db.session.scalar(sa.select(Ticket).join(Ticket.service_point).where(
        sa.text("service_point.code = :code")).params(code=code).limit(1))
    service_point = existing.service_point if existing is not None else point(org, code, "KF")
    ticket = rate(service_point, 3)
    when = at(received)
    values = dict(received_at=when, priority=priority, assignee_id=getattr(assignee, "id", None),
                  **sla.deadlines(priority, when))
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(**values))
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


# -- deadlines on fixed dates ---------------------------------------------------------------------
@pytest.mark.parametrize("received, priority, first_response, resolution", [
    # Over lunch: 11:00–12:00 is 60, then 13:30 + 180; the resolution is 300 on Monday and five whole days
    # (Saturday 20 September is an ordinary weekend day), used up at 17:30 exactly.
    ("2025-09-15 11:00", NORMAL, "2025-09-15 16:30", "2025-09-22 17:30"),
    # Friday 17:00: 30 minutes on Friday, the weekend does not count, Monday 09:00 on.
    ("2025-09-12 17:00", HIGH, "2025-09-15 09:30", "2025-09-16 09:30"),
    # Tuesday 30 September 17:00: National Day 1–8 October is off, Thursday 9 October is the next working day.
    ("2025-09-30 17:00", HIGH, "2025-10-09 09:30", "2025-10-10 09:30"),
    # Friday 10 October 17:00: Saturday 11 October is a 调休 working day, Sunday is off.
    ("2025-10-10 17:00", HIGH, "2025-10-11 09:30", "2025-10-13 09:30"),
    # Friday 26 September 17:00 on the low priority (480 / 4800): Sunday 28 September is a 调休 working day; the
    # resolution target is 30 minutes on Friday, 11 working days (28, 29, 30 September, 9, 10, 11 — a 调休
    # Saturday — and 13 to 17 October: National Day is skipped) and 150 minutes on Monday 20 October.
    ("2025-09-26 17:00", LOW, "2025-09-29 09:30", "2025-10-20 11:30"),
])
def test_deadlines_in_business_minutes(org, received, priority, first_response, resolution):
    due = sla.deadlines(priority, at(received))
    assert (local(due["first_response_due_at"]), local(due["resolution_due_at"])) == (first_response, resolution)
    # The first thing to look at is the first-response target.
    assert due["sla_next_check_at"] == due["first_response_due_at"]


def test_open_ticket_sets_the_deadlines(org):
    ticket = rate(point(org, "KF09", "KF"), 1)  # a 差评: high priority
    due = sla.deadlines(HIGH, ticket.received_at)
    assert (ticket.first_response_due_at, ticket.resolution_due_at, ticket.sla_next_check_at) == (
        due["first_response_due_at"], due["resolution_due_at"], due["first_response_due_at"])


# -- the scan -------------------------------------------------------------------------------------
def notes(user=None, kind=None) -> list[Notification]:
    query = sa.select(Notification).order_by(Notification.id)
    if user is not None:
        query = query.where(Notification.recipient_id == user.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


def scan_often(moment: str, times: int = 3) -> list[dict]:
    return [sla.scan(at(moment)) for _ in range(times)]


def test_each_warning_fires_once_and_each_rung_reaches_the_right_person(org):
    member, head, qm = org.kf_member, org.heads["KF"], org.qm
    # High priority received Monday 15 September 09:00: first response due 10:00, 50% (240) at 14:30, 75% (360)
    # at 16:30, the breach (480) Tuesday 10:00, the head at 600 (Tuesday 12:00), the managers at 960 (Wednesday
    # 11:00).
    ticket = opened(org, "2025-09-15 09:00", assignee=member)
    assert local(ticket.sla_next_check_at) == "2025-09-15 10:00"
    assert scan_often("2025-09-15 09:59")[0]["fired"] == 0

    expected = [("2025-09-15 10:00", ["first_response"], 0, "2025-09-15 14:30"),
                ("2025-09-15 14:30", ["first_response", 50], 0, "2025-09-15 16:30"),
                ("2025-09-15 16:30", ["first_response", 50, 75], 0, "2025-09-16 10:00"),
                ("2025-09-16 10:00", ["first_response", 50, 75, 100], 1, "2025-09-16 12:00"),
                ("2025-09-16 12:00", ["first_response", 50, 75, 100], 2, "2025-09-17 11:00"),
                ("2025-09-17 11:00", ["first_response", 50, 75, 100], 3, None)]
    for moment, warned, escalation, next_check in expected:
        results = scan_often(moment)
        assert [r["steps"] for r in results] == [1, 0, 0]  # once, however often the scan runs
        db.session.expire_all()
        ticket = db.session.get(Ticket, ticket.id)
        assert (ticket.sla_warned, ticket.escalation, local(ticket.sla_next_check_at)) == (
            warned, escalation, next_check)

    # The assignee: first response, 50%, 75%, the breach; the head: the second rung; the manager: the third.
    assert [n.dedupe_key for n in notes(member)] == [
        f"triage.sla:{ticket.id}:first_response", f"triage.sla:{ticket.id}:50", f"triage.sla:{ticket.id}:75",
        f"triage.sla:{ticket.id}:breach"]
    assert {n.kind for n in notes(member)} == {sla.KIND_WARNING}
    assert [(n.dedupe_key, n.kind) for n in notes(head)] == [(f"triage.sla:{ticket.id}:escalation:2",
                                                            sla.KIND_ESCALATED)]
    assert [n.dedupe_key for n in notes(qm)] == [f"triage.sla:{ticket.id}:escalation:3"]
    assert all(n.link == services.ticket_path(ticket.id) for n in notes())
    assert len(audit("triage.sla_step")) == 6
    # Nothing more to look at: later scans do not read it.
    assert sla.scan(at("2025-12-31 17:00"))["due"] == 0


def test_an_unassigned_breach_goes_to_the_head_and_a_late_scan_sends_each_step_once(org):
    head, qm = org.heads["KF"], org.qm
    ticket = opened(org, "2025-09-15 09:00")
    # The first scan in days (Wednesday 12:00): every step passed meanwhile, once each; of the warnings only the
    # most urgent message goes out.
    assert [r["steps"] for r in scan_often("2025-09-17 12:00")] == [6, 0, 0]
    assert sorted(n.dedupe_key for n in notes(head)) == [
        f"triage.sla:{ticket.id}:{step}" for step in ("breach", "escalation:2", "first_response")]
    assert [n.dedupe_key for n in notes(qm)] == [f"triage.sla:{ticket.id}:escalation:3"]
    assert not notes(org.kf_member)


def test_a_paused_ticket_does_not_age(org, monkeypatch):
    member = org.kf_member
    ticket = opened(org, "2025-09-15 09:00", assignee=member)

    def act(moment: str, to: str):
        monkeypatch.setattr(services, "utcnow", lambda: at(moment))
        services.set_status(member, ticket.id, to)

    act("2025-09-15 09:30", ACCEPTED)  # the first response, in time
    act("2025-09-15 10:00", AWAITING_CUSTOMER)  # 60 business minutes used
    for moment in ("2025-09-15 16:30", "2025-09-16 12:00", "2025-09-17 17:00"):
        assert sla.scan(at(moment))["due"] == 0  # out of the scan while paused
        left = sla.countdown(db.session.get(Ticket, ticket.id), at(moment))
        assert (left.minutes, left.paused) == (420, True)
    assert not notes(member)

    act("2025-09-18 09:00", IN_PROGRESS)  # resumed Thursday: 420 left, one full working day
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert local(ticket.resolution_due_at) == "2025-09-18 17:30"
    assert local(ticket.sla_next_check_at) == "2025-09-18 12:00"  # 50% = 240: 60 before the pause, 180 after
    assert sla.scan(at("2025-09-18 11:59"))["steps"] == 0
    assert sla.scan(at("2025-09-18 12:00"))["steps"] == 1
    assert [n.dedupe_key for n in notes(member)] == [f"triage.sla:{ticket.id}:50"]


def test_warnings_follow_the_policy(org):
    db.session.add(SlaPolicy(priority=HIGH, first_response_minutes=60, resolution_minutes=480, warn_at=[75, 100]))
    db.session.flush()
    ticket = opened(org, "2025-09-15 09:00", assignee=org.kf_member)
    sla.scan(at("2025-09-15 10:00"))
    db.session.expire_all()
    # No 50% warning: after the first response, the next moment is 75% (360 minutes, 16:30).
    assert local(db.session.get(Ticket, ticket.id).sla_next_check_at) == "2025-09-15 16:30"


def test_spam_is_never_warned(org):
    ticket = opened(org, "2025-09-15 09:00", assignee=org.kf_member)
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(is_spam=True))
    assert sla.scan(at("2025-09-17 12:00"))["steps"] == 0
    assert not notes() and db.session.get(Ticket, ticket.id).sla_next_check_at is None


# -- countdown, digest, to-do ---------------------------------------------------------------------
def test_the_countdown_in_working_time(org):
    ticket = opened(org, "2025-09-15 09:00", assignee=org.kf_member)
    left = sla.countdown(ticket, at("2025-09-15 09:40"))
    assert (left.minutes, left.percent, left.breached, left.paused) == (440, 8, False, False)
    assert "7" in left.text and "20" in left.text
    assert sla.format_duration(200) == sla.format_duration(-200)
    late = sla.countdown(ticket, at("2025-09-16 11:05"))  # 420 Monday + 125 Tuesday = 545: 65 over
    assert (late.minutes, late.breached) == (-65, True)
    assert "1" in late.text and "5" in late.text
    services.set_status(org.kf_member, ticket.id, "resolved")
    assert sla.countdown(ticket, at("2025-09-16 11:05")) is None


def test_my_sla_at_risk_in_the_digest_and_the_to_dos(org, monkeypatch):
    member, other = org.kf_member, org.heads["KF"]
    safe = opened(org, "2025-09-15 09:00", assignee=member)
    risky = opened(org, "2025-09-12 09:00", assignee=member)  # by Monday 13:30 already 420 + 180 = 600 used
    theirs = opened(org, "2025-09-12 09:00", assignee=other)
    monkeypatch.setattr(sla, "utcnow", lambda: at("2025-09-15 13:30"))
    users = [member, other, org.qm]
    for user in users:
        db.session.refresh(user)
    with count_queries() as statements:
        digest = sla.digest_at_risk(users, None)
    assert len(statements) <= 5, "\n".join(s[:80] for s in statements)  # tickets, pauses, policies, calendar: not one per user or ticket
    assert [i.link for i in digest[member.id]] == [services.ticket_path(risky.id)]
    assert [i.link for i in digest[other.id]] == [services.ticket_path(theirs.id)]
    assert org.qm.id not in digest
    todos = sla.todos(member)
    assert [(t.url, t.urgent) for t in todos] == [(services.ticket_path(risky.id), True)]
    assert safe.id not in {t.id for t, _c in sla.at_risk([member.id], at("2025-09-15 13:30"))[member.id]}


# -- policies -------------------------------------------------------------------------------------
def test_defaults_and_saving_a_policy(org):
    assert (sla.policy_for(HIGH).first_response_minutes, sla.policy_for(NORMAL).resolution_minutes,
            sla.policy_for(LOW).resolution_minutes) == (60, 2400, 4800)
    with pytest.raises(PermissionDenied):
        sla.save_policy(org.heads["KF"], HIGH, first_response_minutes=30, resolution_minutes=240)
    with pytest.raises(ServiceError) as refused:
        sla.save_policy(org.qm, HIGH, first_response_minutes=300, resolution_minutes=240, warn_at=[0, 150])
    assert {field for field, _m in refused.value.errors} == {"resolution_minutes", "warn_at"}
    sla.save_policy(org.qm, HIGH, first_response_minutes=30, resolution_minutes=240, warn_at=[80, 50, 100])
    assert sla.policies()[HIGH] == sla.Policy(HIGH, 30, 240, (50, 80, 100))
    (event,) = audit("triage.sla_policy")
    assert event.summary["after"] == {"first_response_minutes": 30, "resolution_minutes": 240,
                                      "warn_at": [50, 80, 100]}
    # New tickets get the new targets.
    assert local(sla.deadlines(HIGH, at("2025-09-15 09:00"))["resolution_due_at"]) == "2025-09-15 14:30"


# -- reopening, spam, the scan's cost, quiet hours ------------------------------------------------
def _act(monkeypatch, actor, ticket, moment: str, to: str) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: at(moment))
    services.set_status(actor, ticket.id, to)


def test_time_spent_resolved_does_not_count_once_reopened_by_staff(org, monkeypatch):
    member = org.kf_member
    ticket = opened(org, "2025-09-15 09:00", assignee=member)
    _act(monkeypatch, member, ticket, "2025-09-15 09:30", ACCEPTED)
    _act(monkeypatch, member, ticket, "2025-09-15 10:00", RESOLVED)  # 60 business minutes used
    _act(monkeypatch, member, ticket, "2025-09-17 09:00", IN_PROGRESS)  # reopened Wednesday morning
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    # The stretch resolved is a pause (Monday 10:00 to Wednesday 09:00): 420 left, one working day from now.
    assert [(local(p.paused_at), local(p.resumed_at)) for p in db.session.scalars(
        sa.select(TicketPause).where(TicketPause.ticket_id == ticket.id))] == [("2025-09-15 10:00", "2025-09-17 09:00")]
    assert local(ticket.resolution_due_at) == "2025-09-17 17:30"
    assert local(ticket.sla_next_check_at) == "2025-09-17 12:00"  # 50% = 240: 60 before resolving, 180 after
    left = sla.countdown(ticket, at("2025-09-17 09:00"))
    assert (left.minutes, left.paused, left.breached) == (420, False, False)
    assert sla.scan(at("2025-09-17 11:59"))["steps"] == 0  # not breached by the 780 minutes it spent resolved
    assert sla.scan(at("2025-09-17 12:00"))["steps"] == 1
    assert [n.dedupe_key for n in notes(member)] == [f"triage.sla:{ticket.id}:50"]


def test_time_spent_resolved_does_not_count_once_reopened_by_a_poor_rating(org, monkeypatch):
    member = org.kf_member
    ticket = opened(org, "2025-09-15 09:00", assignee=member)
    monkeypatch.setattr(services, "utcnow", lambda: at("2025-09-15 09:30"))
    reply.change_status(member, ticket.id, IN_PROGRESS)
    monkeypatch.setattr(services, "utcnow", lambda: at("2025-09-15 13:30"))  # 180 used
    reply.change_status(member, ticket.id, RESOLVED)
    monkeypatch.setattr(services, "utcnow", lambda: at("2025-09-18 09:00"))  # Thursday: the customer rates it 1
    feedback_services.rate_resolution(db.session.get(Ticket, ticket.id).feedback, 1)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == IN_PROGRESS
    # 300 left from Thursday 09:00: 180 in the morning, 120 after lunch; 50% (240) is 60 after the reopening.
    assert local(ticket.resolution_due_at) == "2025-09-18 15:30"
    assert local(ticket.sla_next_check_at) == "2025-09-18 10:00"
    assert sla.scan(at("2025-09-18 09:59"))["steps"] == 0  # not breached by the days it spent resolved
    assert sla.scan(at("2025-09-18 10:00"))["steps"] == 1
    assert [n.dedupe_key for n in notes(member)] == [f"triage.sla:{ticket.id}:50"]


def test_marking_spam_stops_the_scan_and_unmarking_reschedules_it(org):
    member, head = org.kf_member, org.heads["KF"]
    ticket = opened(org, "2025-09-15 09:00", assignee=member)
    services.set_spam(head, ticket.id, True)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).sla_next_check_at is None
    assert sla.scan(at("2025-09-17 12:00"))["due"] == 0
    services.set_spam(head, ticket.id, False)
    db.session.expire_all()
    # Its next moment is back: the first response (Monday 10:00); the time it spent marked counts.
    assert local(db.session.get(Ticket, ticket.id).sla_next_check_at) == "2025-09-15 10:00"
    assert [r["steps"] for r in scan_often("2025-09-17 12:00")] == [6, 0, 0]
    assert {n.dedupe_key for n in notes(member)} == {f"triage.sla:{ticket.id}:{k}" for k in ("breach", "first_response")}
    assert [n.dedupe_key for n in notes(org.qm)] == [f"triage.sla:{ticket.id}:escalation:3"]


def test_the_scan_costs_a_fixed_number_of_statements_plus_one_claim_per_ticket(org):
    """Before batching, each firing ticket cost about 16 statements (a dedupe read, the preferences, the settings
    and an INSERT per notification, three per audit event)."""
    member = org.kf_member

    def scan_of(n: int) -> list[str]:
        for _ in range(n):
            opened(org, "2025-09-15 09:00", assignee=member)
        with count_queries() as statements:
            result = sla.scan(at("2025-09-17 12:00"))  # every step: the breach and first response to the
            # assignee, the second rung to the head, the third to the managers
        assert (result["fired"], result["steps"]) == (n, 6 * n)
        return statements

    def kept(statements: list[str]) -> list[str]:
        """On SQLite SQLAlchemy inserts ORM rows one at a time (SQLite does not promise the order of the rows of an
        INSERT … RETURNING, so the ids cannot be matched to a batch): there the notifications' and deliveries'
        INSERTs are left out of the count; on PostgreSQL each is one statement for the batch, and counted."""
        if db.session.get_bind().dialect.name == "postgresql":
            return statements
        return [s for s in statements if not re.match(r"\s*INSERT INTO (notification|delivery)\b", s, re.I)]

    three, seven = kept(scan_of(3)), kept(scan_of(7))
    assert len(seven) - len(three) == 4, "\n".join(s[:80] for s in seven)  # the claims
    claims = [s for s in seven if s.lstrip().upper().startswith("UPDATE TICKET")]
    assert len(claims) == 7
    # The tickets, pauses, departments, people, managers (2), policies, calendar; dedupe keys, preferences,
    # settings, notifications, deliveries; the audit chain's end, its lock on PostgreSQL, the events.
    assert len(seven) - len(claims) <= 17, "\n".join(s[:80] for s in seven)
    assert (len(notes(member)), len(notes(org.heads["KF"])), len(notes(org.qm))) == (20, 10, 10)
    assert len(audit("triage.sla_step")) == 10


def test_escalations_in_quiet_hours_email_once_they_end(org):
    """Quiet hours 20:00–08:00 (the configuration's default). The scan was down on Tuesday afternoon and runs again at
    22:30: the breach (Tuesday 10:00) and the head's rung (12:00) are in the app at once, their emails wait for
    08:00; the managers' rung (Wednesday 11:00, working hours) is emailed at once."""
    member, head, qm = org.kf_member, org.heads["KF"], org.qm
    ticket = opened(org, "2025-09-15 09:00", assignee=member)
    assert sla.scan(at("2025-09-16 22:30"))["steps"] == 5
    late = {n.dedupe_key: n for n in notes() if n.dedupe_key.endswith(("breach", "escalation:2"))}
    assert {(k, n.recipient_id) for k, n in late.items()} == {(f"triage.sla:{ticket.id}:breach", member.id),
                                                               (f"triage.sla:{ticket.id}:escalation:2", head.id)}
    held = list(db.session.scalars(sa.select(Delivery).where(
        Delivery.notification_id.in_([n.id for n in late.values()]))))
    assert sorted((d.target, local(d.next_attempt_at)) for d in held) == sorted(
        [(member.email, "2025-09-17 08:00"), (head.email, "2025-09-17 08:00")])
    swept = lambda moment: {i for batch in sweep(at(moment)) for i in batch}  # noqa: E731
    assert not swept("2025-09-17 07:59") & {d.id for d in held}
    assert swept("2025-09-17 08:00") >= {d.id for d in held}

    assert sla.scan(at("2025-09-17 11:00"))["steps"] == 1
    (to_qm,) = notes(qm)
    (delivery,) = db.session.scalars(sa.select(Delivery).where(Delivery.notification_id == to_qm.id))
    assert local(delivery.next_attempt_at) == "2025-09-17 11:00"
