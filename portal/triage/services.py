"""Triage rules: routing a feedback item to a queue, the ticket's lifecycle, notes and replies, reassignment,
flags, and the 差评 loop's guards.

**Routing** (``route``), first match wins:

1. a category rule (``RoutingRule``): the first of the item's categories that has an active rule;
2. the matrix: when the service point has a process and the point's department is not R for it, the first
   active R department of that process (``raci.services.departments_with``);
3. the service point's department (or, for staff entries without a point, the department staff chose).

Ratings of 2 or below (不满意, 非常不满意) are high priority and open the 差评 loop; a 差评 whose customer consented
to contact needs a call-back record (回访) before the ticket can be resolved.

**Who may see and work a queue** (``may_work``): the members and the head of the ticket's department, and the
quality managers and administrators. Anyone else gets NotFound — a head of department A learns nothing of B's
queue, not even that an item exists.

Every function takes the acting user, flushes but never commits, and writes an audit event for each state
change. Status changes are conditional UPDATEs: of two people acting on one ticket at once, the second finds it
changed and gets a Conflict.
"""
from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Department, User
from portal.org.services import headed_department_ids, is_active_user, is_manager
from portal.raci.services import departments_with
from portal.triage import sla
from portal.triage.models import (ACCEPTED, ASSIGN, AWAITING_CUSTOMER, BY_CATEGORY, BY_ENTRY, BY_MATRIX, BY_POINT,
                                  BY_REASSIGNMENT, CLOSED, FLAG, HIGH, IN_PROGRESS, MERGE, NEW, NORMAL, NOTE,
                                  REASSIGN, RESOLVED, STATUS, Callback, RoutingRule, Ticket,
                                  TicketEvent, TicketPause)

NEGATIVE_MAX = 2
TEXT_MAX, REASON_MAX = 5000, 500
BASE_PATH = "/queue"


def ticket_path(ticket_id: int) -> str:
    return f"{BASE_PATH}/{ticket_id}"


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


# -- who may do what ------------------------------------------------------------------------------
def queue_department_ids(user) -> set[int] | None:
    """The queues ``user`` works: their own department and those they head; None: every queue (managers)."""
    if is_manager(user):
        return None
    if not is_active_user(user):
        return set()
    own = {user.department_id} if user.department_id else set()
    return own | set(headed_department_ids(user))


def may_work(user, ticket: Ticket) -> bool:
    visible = queue_department_ids(user)
    return visible is None or ticket.department_id in visible


def may_lead(user, ticket: Ticket) -> bool:
    """Reassign to another department, merge, flag, assign others: the queue's head or a manager."""
    return is_manager(user) or ticket.department_id in headed_department_ids(user)


def get_ticket(actor, ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or not may_work(actor, ticket):
        raise NotFound()
    return ticket


# -- routing --------------------------------------------------------------------------------------
def route(feedback) -> tuple[int, str]:
    """(department id, how) for a feedback item (see the module's docstring)."""
    categories = [c for c in (feedback.categories or []) if c]
    if categories:
        rules = {r.category: r for r in db.session.scalars(
            sa.select(RoutingRule).join(Department, Department.id == RoutingRule.department_id)
            .where(RoutingRule.category.in_(categories), RoutingRule.active.is_(True), Department.active.is_(True)))}
        for category in categories:
            if category in rules:
                return rules[category].department_id, BY_CATEGORY
    point = feedback.service_point
    if point is not None:
        if point.process_id is not None:
            responsible = [d for d in departments_with(point.process_id, "R") if d.active]
            if responsible and point.department_id not in {d.id for d in responsible}:
                return responsible[0].id, BY_MATRIX
        return point.department_id, BY_POINT
    return feedback.department_id, BY_ENTRY


def _insert(values: dict) -> Ticket | None:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.session.scalars(insert(Ticket).on_conflict_do_nothing().returning(Ticket), values).first()


def open_ticket(feedback) -> Ticket:
    """The ticket of a feedback item, made once (a replayed signal finds it)."""
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.feedback_id == feedback.id))
    if existing is not None:
        return existing
    from portal.triage import incidents, loop  # they build on this module

    department_id, how = route(feedback)
    negative = feedback.rating is not None and feedback.rating <= NEGATIVE_MAX
    consented = feedback.contact_consent_at is not None and bool(feedback.contact_phone or feedback.contact_email)
    now = utcnow()
    priority = HIGH if negative else NORMAL
    ticket = _insert(dict(
        feedback_id=feedback.id, department_id=department_id, service_point_id=feedback.service_point_id,
        status=NEW, priority=priority, routed_by=how, negative=negative,
        callback_required=negative and consented, is_spam=bool(feedback.is_spam), received_at=feedback.created_at,
        sla_warned=[], escalation=0, rectification_note="", created_at=now, updated_at=now,
        rectification_due_on=loop.rectification_due(feedback.created_at) if negative else None,
        **sla.deadlines(priority, feedback.created_at)))
    if ticket is None:  # a twin made it a moment ago
        return db.session.scalar(sa.select(Ticket).where(Ticket.feedback_id == feedback.id))
    if how != BY_POINT:
        db.session.add(TicketEvent(ticket_id=ticket.id, kind=REASSIGN, data={"to": department_id, "by": how}))
    db.session.flush()
    if negative:
        incidents.check_burst(ticket)
    return ticket


def on_feedback_received(feedback, **_kwargs) -> None:
    open_ticket(feedback)


# -- history --------------------------------------------------------------------------------------
def _event(ticket: Ticket, kind: str, actor, body: str = "", request_key: str | None = None, **data) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=getattr(actor, "id", None), body=body, data=data,
                        request_key=request_key)
    db.session.add(event)
    db.session.flush()
    return event


def history(ticket: Ticket) -> list[TicketEvent]:
    """The ticket's events, oldest first, with those of the tickets merged into it."""
    ids = [ticket.id] + list(db.session.scalars(sa.select(Ticket.id).where(Ticket.duplicate_of_id == ticket.id)))
    return list(db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id.in_(ids))
                                   .order_by(TicketEvent.created_at, TicketEvent.id)))


# -- status ---------------------------------------------------------------------------------------
#: from → the statuses it may go to.
TRANSITIONS = {
    NEW: (ACCEPTED, IN_PROGRESS, RESOLVED, CLOSED),
    ACCEPTED: (IN_PROGRESS, AWAITING_CUSTOMER, RESOLVED, CLOSED),
    IN_PROGRESS: (AWAITING_CUSTOMER, RESOLVED, CLOSED),
    AWAITING_CUSTOMER: (IN_PROGRESS, RESOLVED, CLOSED),
    RESOLVED: (CLOSED, IN_PROGRESS),
    CLOSED: (),
}


def _transition(ticket: Ticket, to: str, **values) -> None:
    """Conditional UPDATE from the status we read: Conflict when someone else changed it first. A resolved
    ticket reopened gets a pause over its time resolved (it does not count against its SLA, see sla.py); the
    caller then calls ``sla.after_status_change``."""
    before, resolved_at, now = ticket.status, ticket.resolved_at, utcnow()
    if to not in TRANSITIONS.get(before, ()):
        raise ServiceError(("status", _("A ticket that is %(now)s cannot become %(then)s.",
                                        now=ticket.status_label, then=Ticket(status=to).status_label)))
    changed = db.session.execute(
        sa.update(Ticket).where(Ticket.id == ticket.id, Ticket.status == before)
        .values(status=to, updated_at=now, **values), execution_options={"synchronize_session": False}).rowcount
    if not changed:
        raise Conflict((None, _("Someone else changed this ticket first. Reload it and try again.")))
    if before == RESOLVED and to == IN_PROGRESS and resolved_at is not None:
        db.session.add(TicketPause(ticket_id=ticket.id, paused_at=resolved_at, resumed_at=max(now, resolved_at)))
    db.session.refresh(ticket)


def _resume(ticket: Ticket, now: datetime) -> None:
    db.session.execute(sa.update(TicketPause).where(TicketPause.ticket_id == ticket.id,
                                                    TicketPause.resumed_at.is_(None)).values(resumed_at=now))


def callbacks_of(ticket: Ticket) -> list[Callback]:
    return list(db.session.scalars(sa.select(Callback).where(Callback.ticket_id == ticket.id).order_by(Callback.id)))


def set_status(actor, ticket_id: int, to: str) -> Ticket:
    """Move a ticket along its lifecycle (see portal/triage/models.py), with the 差评 loop's guard on resolving."""
    ticket = get_ticket(actor, ticket_id)
    before = ticket.status
    now = utcnow()
    values: dict = {}
    if to == RESOLVED and ticket.callback_required and not callbacks_of(ticket):
        raise ServiceError(("status", _("The customer agreed to be contacted about this 差评: record the call-back "
                                         "(回访) before resolving it.")))
    if to == ACCEPTED:
        values["accepted_at"] = now
    if to in (ACCEPTED, IN_PROGRESS) and ticket.first_response_at is None:
        values["first_response_at"] = now
    if to == AWAITING_CUSTOMER:
        values["paused_at"] = now
    elif before == AWAITING_CUSTOMER:
        values["paused_at"] = None
    if to == RESOLVED:
        values["resolved_at"] = now
    if to == CLOSED:
        values["closed_at"] = now
    if before == RESOLVED and to == IN_PROGRESS:
        values["resolved_at"] = None
    _transition(ticket, to, **values)
    if to == AWAITING_CUSTOMER:
        db.session.add(TicketPause(ticket_id=ticket.id, paused_at=now))
    elif before == AWAITING_CUSTOMER:
        _resume(ticket, now)
    sla.after_status_change(ticket)
    _event(ticket, STATUS, actor, before=before, after=to)
    record("triage.status", ticket, actor=actor, before={"status": before}, after={"status": to})
    return ticket


# -- assignment and routing by hand ----------------------------------------------------------------
def assign(actor, ticket_id: int, assignee_id: int | None) -> Ticket:
    """Give the ticket to a member of its department (the head or a manager for anyone; a member takes it)."""
    ticket = get_ticket(actor, ticket_id)
    assignee = db.session.get(User, assignee_id) if assignee_id else None
    if assignee_id and (assignee is None or not assignee.active or assignee.department_id != ticket.department_id):
        raise ServiceError(("assignee_id", _("Choose an active member of the ticket's department.")))
    if not may_lead(actor, ticket) and assignee_id != actor.id:
        raise PermissionDenied()
    before = ticket.assignee_id
    if before == assignee_id:
        return ticket
    ticket.assignee_id, ticket.updated_at = assignee_id, utcnow()
    db.session.flush()
    _event(ticket, ASSIGN, actor, before=before, after=assignee_id)
    record("triage.assign", ticket, actor=actor, before={"assignee_id": before}, after={"assignee_id": assignee_id})
    return ticket


def reassign(actor, ticket_id: int, department_id: int | None, reason: str) -> Ticket:
    """Move the ticket to another department's queue, with a required reason (audited). It leaves its incident
    (``incidents.leave_incident``)."""
    ticket = get_ticket(actor, ticket_id)
    if not may_lead(actor, ticket):
        raise PermissionDenied()
    reason = (reason or "").strip()
    errors = []
    target = db.session.get(Department, department_id) if department_id else None
    if target is None or not target.active:
        errors.append(("department_id", _("Choose an active department.")))
    elif target.id == ticket.department_id:
        errors.append(("department_id", _("The ticket is already in this department's queue.")))
    if not reason:
        errors.append(("reason", _("Give the reason for the reassignment.")))
    elif len(reason) > REASON_MAX:
        errors.append(("reason", _("At most %(n)d characters.", n=REASON_MAX)))
    if errors:
        raise ServiceError(*errors)
    before = ticket.department_id
    ticket.department_id, ticket.assignee_id, ticket.routed_by, ticket.updated_at = (
        target.id, None, BY_REASSIGNMENT, utcnow())
    db.session.flush()
    from portal.triage.incidents import leave_incident  # an incident is one queue's: the ticket leaves it

    leave_incident(actor, ticket)
    _event(ticket, REASSIGN, actor, reason, before=before, to=target.id)
    record("triage.reassign", ticket, actor=actor, before={"department_id": before},
           after={"department_id": target.id}, extra={"reason": reason})
    return ticket


# -- notes, replies, call-backs --------------------------------------------------------------------
def _text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ServiceError((field, message))
    if len(value) > TEXT_MAX:
        raise ServiceError((field, _("At most %(n)d characters.", n=TEXT_MAX)))
    return value


def _replayed(request_key: str | None, ticket: Ticket) -> TicketEvent | None:
    if not request_key:
        return None
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.request_key == request_key[:64]))
    return event if event is not None and event.ticket_id == ticket.id else None


def add_note(actor, ticket_id: int, text: str, *, request_key: str | None = None) -> TicketEvent:
    """An internal note (never shown to the customer)."""
    ticket = get_ticket(actor, ticket_id)
    earlier = _replayed(request_key, ticket)
    if earlier is not None:
        return earlier
    body = _text(text, "text", _("Write the note."))
    event = _event(ticket, NOTE, actor, body, request_key=(request_key or None) and request_key[:64])
    record("triage.note", ticket, actor=actor, extra={"event_id": event.id})
    return event


def record_callback(actor, ticket_id: int, *, called_at: datetime | None, outcome: str, note: str,
                    request_key: str | None = None) -> Callback:
    """回访: when the customer was called, by whom (the actor), and the outcome."""
    ticket = get_ticket(actor, ticket_id)
    if request_key:
        earlier = db.session.scalar(sa.select(Callback).where(Callback.request_key == request_key[:64]))
        if earlier is not None and earlier.ticket_id == ticket.id:
            return earlier
    errors = []
    if outcome not in ("reached", "not_reached"):
        errors.append(("outcome", _("Choose whether the customer was reached.")))
    now = utcnow()
    if called_at is None:
        errors.append(("called_at", _("Enter when the customer was called.")))
    elif called_at > now or called_at < ticket.received_at:
        errors.append(("called_at", _("The call must be after the feedback and not in the future.")))
    if errors:
        raise ServiceError(*errors)
    callback = Callback(ticket_id=ticket.id, called_at=called_at, called_by_id=actor.id, outcome=outcome,
                        note=(note or "").strip()[:TEXT_MAX], request_key=(request_key or None) and request_key[:64])
    db.session.add(callback)
    db.session.flush()
    _event(ticket, "callback", actor, callback.note, outcome=outcome, called_at=called_at.isoformat())
    record("triage.callback", ticket, actor=actor, extra={"outcome": outcome, "called_at": called_at.isoformat()})
    return callback


# -- flags ----------------------------------------------------------------------------------------
def merge(actor, ticket_id: int, into_id: int) -> Ticket:
    """Mark ``ticket_id`` a duplicate of ``into_id`` (same queue): it is closed, both histories are kept, and the
    surviving ticket's history shows the duplicate's events too."""
    ticket = get_ticket(actor, ticket_id)
    target = get_ticket(actor, into_id)
    if not may_lead(actor, ticket):
        raise PermissionDenied()
    if target.id == ticket.id or target.duplicate_of_id is not None:
        raise ServiceError(("into_id", _("Choose another ticket that is not itself a duplicate.")))
    if target.department_id != ticket.department_id:
        raise ServiceError(("into_id", _("Only tickets of the same queue can be merged.")))
    if ticket.duplicate_of_id is not None:
        return ticket
    now = utcnow()
    values = {"duplicate_of_id": target.id, "updated_at": now}
    if ticket.status != CLOSED:
        values.update(status=CLOSED, closed_at=now)
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(**values),
                       execution_options={"synchronize_session": False})
    db.session.refresh(ticket)
    _event(ticket, MERGE, actor, into=target.id)
    _event(target, MERGE, actor, merged=ticket.id)
    record("triage.merge", ticket, actor=actor, after={"duplicate_of_id": target.id})
    return ticket


def set_spam(actor, ticket_id: int, spam: bool) -> Ticket:
    ticket = get_ticket(actor, ticket_id)
    if not may_lead(actor, ticket):
        raise PermissionDenied()
    if ticket.is_spam == spam:
        return ticket
    ticket.is_spam, ticket.updated_at = spam, utcnow()
    if spam:  # hidden from the queue: the SLA scan stops looking at it
        ticket.sla_next_check_at = None
    db.session.flush()
    if not spam:  # back in the queue: its next SLA moment again (steps passed meanwhile fire at the next scan)
        sla.after_status_change(ticket)
    _event(ticket, FLAG, actor, spam=spam)
    record("triage.spam", ticket, actor=actor, before={"is_spam": not spam}, after={"is_spam": spam})
    return ticket


def set_archived(actor, ticket_id: int, archived: bool) -> Ticket:
    ticket = get_ticket(actor, ticket_id)
    if not may_lead(actor, ticket):
        raise PermissionDenied()
    if ticket.is_open and archived:
        raise ServiceError((None, _("Resolve or close the ticket before archiving it.")))
    if (ticket.archived_at is not None) == archived:
        return ticket
    ticket.archived_at, ticket.updated_at = (utcnow() if archived else None), utcnow()
    db.session.flush()
    _event(ticket, FLAG, actor, archived=archived)
    record("triage.archive", ticket, actor=actor, after={"archived": archived})
    return ticket



# -- for other domains ------------------------------------------------------------------------------
def upheld_feedback_ids(start: datetime, end: datetime, *, point_ids: list[int] | None = None,
                        department_id: int | None = None) -> list[int]:
    """The feedback rows received in [start, end) whose rating an upheld appeal took out of the KPIs."""
    query = sa.select(Ticket.feedback_id).where(Ticket.appeal_status == "upheld", Ticket.received_at >= start,
                                                Ticket.received_at < end)
    if point_ids is not None:
        query = query.where(Ticket.service_point_id.in_(point_ids or [-1]))
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    return list(db.session.scalars(query))
