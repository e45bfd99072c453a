"""Demo queues: the demo feedback is bulk-inserted without ``feedback_received`` (portal/feedback/demo.py), so this
seeder opens a ticket for every demo row that has none, routed as the subscriber would (one routing decision per
point and categories), in one Core insert: items older than ten days closed, three to ten days resolved, the
most recent ones (and the 差评 of the last ten days) new, accepted or in progress with their SLA deadlines, some 差评 with a call-back recorded and
some still waiting for one. Idempotent: rows that have a ticket are left alone."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback.services import every_feedback
from portal.org.models import Department, User
from portal.triage import loop, services, sla
from portal.triage.models import (ACCEPTED, CLOSED, HIGH, IN_PROGRESS, MALICIOUS, MISTAKEN, NEW, NORMAL, RESOLVED,
                                  Appeal, Callback, Incident, Ticket)

NEGATIVE_MAX = 2


def seed_tickets() -> int:
    have = set(db.session.scalars(sa.select(Ticket.feedback_id)))
    rows = [r for r in every_feedback() if r.id not in have]
    if not rows:
        return 0
    now = utcnow()
    routes: dict[tuple, tuple[int, str]] = {}
    values, recent = [], []
    for n, row in enumerate(rows):
        key = (row.service_point_id, tuple(row.categories or ()), row.department_id)
        if key not in routes:
            routes[key] = services.route(row)
        department_id, how = routes[key]
        negative = row.rating is not None and row.rating <= NEGATIVE_MAX
        consented = row.contact_consent_at is not None and bool(row.contact_phone or row.contact_email)
        received = row.created_at
        age = now - received
        item = dict(feedback_id=row.id, department_id=department_id, service_point_id=row.service_point_id,
                    priority=HIGH if negative else NORMAL, routed_by=how, negative=negative,
                    callback_required=negative and consented, is_spam=bool(row.is_spam), received_at=received,
                    sla_warned=[], escalation=0, rectification_note="", created_at=received, updated_at=now,
                    status=NEW, first_response_at=None, accepted_at=None, resolved_at=None, closed_at=None,
                    first_response_due_at=None, resolution_due_at=None, sla_next_check_at=None,
                    rectification_due_on=loop.rectification_due(received) if negative else None)
        # Worked tickets keep their deadlines (the ranking's SLA compliance reads them): most 差评 are resolved
        # within the working day, one in five takes two days (late); the rest within a day or two (in time).
        took = timedelta(days=2) if not negative or n % 5 == 0 else timedelta(hours=4)
        if age > timedelta(days=10):
            item.update(status=CLOSED, accepted_at=received + timedelta(hours=1),
                        first_response_at=received + timedelta(hours=1), resolved_at=received + took,
                        closed_at=received + took + timedelta(days=1), **_past_deadlines(item["priority"], received))
        elif age > timedelta(days=3) and not negative:  # a 差评 of the last ten days is still being worked
            item.update(status=RESOLVED, accepted_at=received + timedelta(hours=2),
                        first_response_at=received + timedelta(hours=2), resolved_at=received + timedelta(days=1),
                        **_past_deadlines(item["priority"], received))
        else:
            status = (NEW, ACCEPTED, IN_PROGRESS)[n % 3]
            item.update(status=status, **sla.deadlines(item["priority"], received))
            if status != NEW:
                item.update(accepted_at=received + timedelta(minutes=30),
                            first_response_at=received + timedelta(minutes=30))
            recent.append(item)
        values.append(item)
    db.session.execute(sa.insert(Ticket.__table__), values)
    _callbacks(now)
    db.session.flush()
    return len(values)


def _past_deadlines(priority: str, received) -> dict:
    """The deadlines of a ticket that is no longer worked (nothing left for the SLA scan)."""
    return {**sla.deadlines(priority, received), "sla_next_check_at": None}


def _callbacks(now) -> None:
    """Call-backs for the 差评 that needed one: every closed or resolved one, and half of the open ones (the other
    half is mid-loop, still to call)."""
    tickets = list(db.session.scalars(sa.select(Ticket).where(Ticket.callback_required.is_(True))
                                      .outerjoin(Callback, Callback.ticket_id == Ticket.id)
                                      .where(Callback.id.is_(None)).order_by(Ticket.id)))
    heads = dict(db.session.execute(sa.select(Department.id, Department.head_id)).all())
    fallback = db.session.scalar(sa.select(User.id).where(User.active.is_(True)).order_by(User.id))
    rows = []
    for n, ticket in enumerate(tickets):
        if ticket.status in (NEW, ACCEPTED, IN_PROGRESS) and n % 2:
            continue
        caller = heads.get(ticket.department_id) or fallback
        called = min(ticket.received_at + timedelta(hours=3), now)
        rows.append(dict(ticket_id=ticket.id, called_at=called, called_by_id=caller,
                         outcome="reached" if n % 5 else "not_reached",
                         note="已致歉并说明整改措施" if n % 5 else "电话无人接听，已发短信", created_at=called))
    if rows:
        db.session.execute(sa.insert(Callback.__table__), rows)


# -- the 差评 loop in the demo -------------------------------------------------------------------------
RECTIFY_NOTES = ("已约谈当事窗口人员并组织服务规范复训，窗口增设引导标识。",
                 "已调整高峰时段排班，增开一个窗口，平均等候时间下降。",
                 "已更新办事指南并在大厅公示一次性告知清单。",
                 "已维修叫号设备并建立每日开机自检记录。")
BURST_COMMENTS = ("排队一个多小时没人管，叫号机坏了", "叫号系统故障，窗口也不解释", "等了很久，现场秩序混乱")
BURST_KEY = "demo-burst-"


def seed_loop() -> int:
    """The 差评 loop mid-way, as a real hall would show it: rectifications recorded on the 差评 that were worked
    (most by their deadline, a few late; the recent ones still open), an appeal waiting for the quality manager and
    one upheld with her signature, and an incident from three 差评 at one point within the hour (received through
    the intake, so routing and burst grouping run for real). Idempotent: each part is skipped once it exists."""
    added = _rectifications()
    added += _appeals()
    added += _burst()
    db.session.flush()
    return added


def _rectifications() -> int:
    rows = db.session.execute(sa.select(Ticket.id, Ticket.rectification_due_on, Ticket.received_at).where(
        Ticket.negative.is_(True), Ticket.rectified_at.is_(None), Ticket.status.in_((RESOLVED, CLOSED)))
        .order_by(Ticket.id)).all()
    for n, (ticket_id, due, received) in enumerate(rows):
        late = n % 8 == 7
        done = received + timedelta(days=(due - loop.local_day(received)).days + (2 if late else -1))
        db.session.execute(sa.update(Ticket).where(Ticket.id == ticket_id).values(
            rectified_at=min(done, utcnow()), rectification_note=RECTIFY_NOTES[n % len(RECTIFY_NOTES)]))
    return len(rows)


def _appeals() -> int:
    from portal.org.demo import DEMO_PASSWORD

    if db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)):
        return 0
    quality = db.session.scalar(sa.select(User).where(User.username == "quality", User.active.is_(True)))
    heads = dict(db.session.execute(sa.select(Department.id, Department.head_id)).all())
    candidates = list(db.session.scalars(sa.select(Ticket).where(
        Ticket.negative.is_(True), Ticket.is_spam.is_(False), Ticket.status.in_((NEW, ACCEPTED, IN_PROGRESS)))
        .order_by(Ticket.received_at.desc()).limit(20)))
    candidates = [t for t in candidates if heads.get(t.department_id)]
    if quality is None or len(candidates) < 2:
        return 0
    pending, upheld = candidates[0], candidates[-1]
    loop.file_appeal(db.session.get(User, heads[pending.department_id]), pending.id, grounds=MISTAKEN,
                     reason="客户评价时误点了“非常不满意”，回访时客户已确认对办理结果满意。")
    appeal = loop.file_appeal(db.session.get(User, heads[upheld.department_id]), upheld.id, grounds=MALICIOUS,
                              reason="同一号码一小时内连续提交多条差评，内容与当日办件记录不符，疑似恶意评价。")
    loop.decide_appeal(quality, appeal.id, uphold=True, password=DEMO_PASSWORD,
                       note="经核查办件记录与监控，评价内容与事实不符，申诉成立，该评价不计入考核。")
    return 2


def _burst() -> int:
    from portal.feedback import services as feedback_services

    if db.session.scalar(sa.select(sa.func.count()).select_from(Incident)):
        return 0
    points = sorted(feedback_services.active_points(), key=lambda p: p.id)
    if not points:
        return 0
    service_point = points[0]
    for n, comment in enumerate(BURST_COMMENTS, start=1):
        feedback_services.receive(
            feedback_services.Submission(rating=1, comment=comment),
            feedback_services.Intake(channel="kiosk", idempotency_key=f"{BURST_KEY}{n}", point=service_point))
    return len(BURST_COMMENTS)
