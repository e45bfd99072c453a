"""Burst grouping: several 差评 at one service point within a short window are one incident, handled once.

When a 差评 arrives (``check_burst``, called by ``services.open_ticket``):

* if an open incident of the same point and queue covers it — received no more than
  ``PORTAL_TRIAGE_BURST_MINUTES`` after the incident's last 差评 (or before its first) — it joins that incident
  (the incident's window extends);
* otherwise, when the 差评 not yet in an incident at that point and queue, received within the
  ``PORTAL_TRIAGE_BURST_MINUTES`` up to it, number ``PORTAL_TRIAGE_BURST_COUNT`` (default 3 in 60 minutes) or
  more, one incident opens and all of them join it.

Grouping is per point *and* queue (department), so that whoever handles the incident may work every ticket in it.
Spam is never grouped. A replay finds the ticket already in its incident and changes nothing; on PostgreSQL a
transaction-scoped advisory lock per point keeps two simultaneous 差评 from opening two incidents.

**Handling** (the incident's page, portal/triage/admin_views.py): staff handle the incident, not N tickets. Each
action applies to its *open* tickets (spam left out), ticket by ticket through the queue's own services, so every
ticket keeps its history and audit event and every guard applies; the incident gets one audit event of its own.
Who: anyone who works the incident's queue (its members and head, managers); assigning others needs the head or
a manager, as on a ticket.

* ``assign_incident``: every open ticket to one member of the department (a double submit changes nothing);
* ``note_incident``: one internal note, or one reply to every customer (``to_customer``), idempotent on the form's
  one-time key (``<key>:<ticket id>`` on each ticket's event);
* ``close_incident``: resolves every open ticket the lifecycle lets it resolve (``reply.change_status``, so the
  customer can rate the handling); those it refuses — a 差评 whose call-back (回访) is still missing — stay open and
  are reported (``IncidentOutcome.refused``). The incident closes once none is left open; until then it stays open
  with what remains. Closing a closed incident again changes nothing.

**A ticket moved to another department** (``services.reassign``) leaves its incident (``leave_incident``): an
incident is one queue's, so that whoever handles it may work every ticket in it. The incident's span and count
shrink; one left with no ticket is closed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Department, User
from portal.triage import reply, services
from portal.triage.models import OPEN_STATUSES, RESOLVED, Incident, Ticket, TicketEvent

DEFAULT_COUNT, DEFAULT_MINUTES = 3, 60
#: The advisory lock's first key (the second is the point's id): "TRIB".
_LOCK_SPACE = 0x54524942


def burst_settings() -> tuple[int, timedelta]:
    """(how many 差评, within what window) open an incident."""
    count = max(2, int(current_app.config.get("PORTAL_TRIAGE_BURST_COUNT", DEFAULT_COUNT)))
    minutes = max(1, int(current_app.config.get("PORTAL_TRIAGE_BURST_MINUTES", DEFAULT_MINUTES)))
    return count, timedelta(minutes=minutes)


def _lock(point_id: int) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:space, :point)"),
                           {"space": _LOCK_SPACE, "point": point_id})


def _refresh_span(incident: Incident) -> None:
    first, last, count = db.session.execute(
        sa.select(sa.func.min(Ticket.received_at), sa.func.max(Ticket.received_at), sa.func.count())
        .where(Ticket.incident_id == incident.id)).one()
    incident.first_at, incident.last_at, incident.count = first, last, count


def check_burst(ticket: Ticket) -> Incident | None:
    """Group ``ticket`` (a 差评) into an incident when it is part of a burst (see the module's docstring); the
    incident, or None."""
    if not ticket.negative or ticket.is_spam or ticket.service_point_id is None:
        return None
    if ticket.incident_id is not None:
        return db.session.get(Incident, ticket.incident_id)
    _lock(ticket.service_point_id)
    threshold, window = burst_settings()
    at = ticket.received_at
    incident = db.session.scalar(
        sa.select(Incident).where(Incident.service_point_id == ticket.service_point_id,
                                  Incident.department_id == ticket.department_id, Incident.closed_at.is_(None),
                                  Incident.last_at >= at - window, Incident.first_at <= at + window)
        .order_by(Incident.last_at.desc(), Incident.id.desc()).limit(1))
    if incident is not None:
        ids = [ticket.id]
        action = "triage.incident_extend"
    else:
        ids = list(db.session.scalars(
            sa.select(Ticket.id).where(Ticket.service_point_id == ticket.service_point_id,
                                       Ticket.department_id == ticket.department_id,
                                       Ticket.negative == sa.true(), Ticket.is_spam == sa.false(),
                                       Ticket.incident_id.is_(None), Ticket.received_at >= at - window,
                                       Ticket.received_at <= at)
            .order_by(Ticket.received_at, Ticket.id)))
        if ticket.id not in ids:
            ids.append(ticket.id)
        if len(ids) < threshold:
            return None
        incident = Incident(service_point_id=ticket.service_point_id, department_id=ticket.department_id,
                            opened_at=utcnow(), first_at=at, last_at=at, count=0)
        db.session.add(incident)
        db.session.flush()
        action = "triage.incident_open"
    db.session.execute(sa.update(Ticket).where(Ticket.id.in_(ids)).values(incident_id=incident.id),
                       execution_options={"synchronize_session": False})
    for row in db.session.identity_map.values():
        if isinstance(row, Ticket) and row.id in ids:
            db.session.refresh(row, ["incident_id"])
    _refresh_span(incident)
    db.session.flush()
    record(action, incident, actor=None, extra={"tickets": ids, "count": incident.count})
    return incident


# -- handling ---------------------------------------------------------------------------------------
def get_incident(actor, incident_id: int) -> Incident:
    """An incident of a queue the actor works (NotFound otherwise)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound()
    visible = services.queue_department_ids(actor)
    if visible is not None and incident.department_id not in visible:
        raise NotFound()
    return incident


def tickets_of(actor, incident_id: int) -> list[Ticket]:
    incident = get_incident(actor, incident_id)
    return list(db.session.scalars(sa.select(Ticket).options(joinedload(Ticket.feedback), joinedload(Ticket.assignee))
                                   .where(Ticket.incident_id == incident.id).order_by(Ticket.received_at, Ticket.id)))


def open_incidents(actor) -> list[Incident]:
    """The open incidents of the queues the actor works, newest first."""
    query = sa.select(Incident).where(Incident.closed_at.is_(None))
    visible = services.queue_department_ids(actor)
    if visible is not None:
        query = query.where(Incident.department_id.in_(visible or [-1]))
    return list(db.session.scalars(query.order_by(Incident.last_at.desc(), Incident.id.desc())))


@dataclass
class IncidentList:
    """The incidents page: the open ones (newest burst first), then the recently closed ones."""

    open: list[Incident]
    closed: list[Incident]
    #: department id → name; incident id → its tickets still open.
    departments: dict[int, str] = field(default_factory=dict)
    open_counts: dict[int, int] = field(default_factory=dict)


#: The incidents page shows those closed within this many days, at most RECENT_CLOSED_MAX of them.
RECENT_CLOSED_DAYS, RECENT_CLOSED_MAX = 30, 50


def list_incidents(actor) -> IncidentList:
    """The incidents of the queues the actor works: open ones, then those closed in the last 30 days (four
    queries whatever their number)."""
    visible = services.queue_department_ids(actor)
    scope = [] if visible is None else [Incident.department_id.in_(visible or [-1])]
    ordered = (Incident.last_at.desc(), Incident.id.desc())
    opened = list(db.session.scalars(sa.select(Incident).options(joinedload(Incident.service_point))
                                     .where(Incident.closed_at.is_(None), *scope).order_by(*ordered)))
    closed = list(db.session.scalars(
        sa.select(Incident).options(joinedload(Incident.service_point))
        .where(Incident.closed_at >= utcnow() - timedelta(days=RECENT_CLOSED_DAYS), *scope)
        .order_by(Incident.closed_at.desc(), Incident.id.desc()).limit(RECENT_CLOSED_MAX)))
    shown = opened + closed
    dept_ids = sorted({i.department_id for i in shown})
    names = dict(db.session.execute(sa.select(Department.id, Department.name).where(Department.id.in_(dept_ids))
                                    .order_by(Department.id)).all()) if dept_ids else {}
    counts = dict(db.session.execute(
        sa.select(Ticket.incident_id, sa.func.count()).where(Ticket.incident_id.in_([i.id for i in opened]),
                                                            Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.incident_id)).all()) if opened else {}
    return IncidentList(opened, closed, names, counts)


def department_name(incident: Incident) -> str:
    department = db.session.get(Department, incident.department_id)
    return department.name if department is not None else ""


def may_lead(actor, incident: Incident) -> bool:
    """Assign the incident's tickets to others: the head of its department or a manager (as for a ticket)."""
    return services.may_lead(actor, incident)


def open_tickets(actor, incident: Incident) -> list[Ticket]:
    """The tickets the incident's actions apply to: open, not spam, in a queue the actor works."""
    return [t for t in tickets_of(actor, incident.id)
            if t.is_open and not t.is_spam and services.may_work(actor, t)]


@dataclass
class IncidentOutcome:
    """What an action on an incident did: the tickets it changed, and those it left as they were, with why."""

    incident: Incident
    done: list[Ticket] = field(default_factory=list)
    refused: list[tuple[Ticket, str]] = field(default_factory=list)
    #: The form had been submitted before (a double click): nothing was done again.
    replayed: bool = False


def _ids(tickets) -> list[int]:
    return [t.id for t in tickets]


def _workable(actor, incident: Incident) -> list[Ticket]:
    tickets = open_tickets(actor, incident)
    if not tickets:
        raise ServiceError((None, _("This incident has no open tickets left.")))
    return tickets


def assign_incident(actor, incident_id: int, assignee_id: int | None) -> IncidentOutcome:
    """Give every open ticket of the incident to one active member of its department (None: to nobody). The head
    or a manager assigns anyone; a member may take them. Tickets already with that person are left alone, so a
    double submit changes nothing."""
    incident = get_incident(actor, incident_id)
    assignee = db.session.get(User, assignee_id) if assignee_id else None
    if assignee_id and (assignee is None or not assignee.active or assignee.department_id != incident.department_id):
        raise ServiceError(("assignee_id", _("Choose an active member of the incident's department.")))
    if not may_lead(actor, incident) and assignee_id != actor.id:
        raise PermissionDenied()
    changed = [t for t in _workable(actor, incident) if t.assignee_id != assignee_id]
    for ticket in changed:
        services.assign(actor, ticket.id, assignee_id)
    if changed:
        record("triage.incident_assign", incident, actor=actor, after={"assignee_id": assignee_id},
               extra={"tickets": _ids(changed)})
    return IncidentOutcome(incident, changed)


def _key(request_key: str | None, ticket_id: int) -> str | None:
    key = (request_key or "").strip()[:40]
    return f"{key}:{ticket_id}" if key else None


def note_incident(actor, incident_id: int, text: str, *, to_customer: bool = False,
                  request_key: str | None = None) -> IncidentOutcome:
    """One internal note on every open ticket of the incident, or (``to_customer``) one reply to every customer
    (shown on each 查询码 page). The form's one-time key makes a double submit a no-op."""
    incident = get_incident(actor, incident_id)
    body = services._text(text, "text", _("Write the reply.") if to_customer else _("Write the note."))
    tickets = _workable(actor, incident)
    keys = {t.id: _key(request_key, t.id) for t in tickets}
    if request_key and db.session.scalar(sa.select(sa.func.count()).select_from(TicketEvent).where(
            TicketEvent.request_key.in_([k for k in keys.values() if k]))):
        return IncidentOutcome(incident, replayed=True)
    for ticket in tickets:
        if to_customer:
            reply.reply(actor, ticket.id, body, request_key=keys[ticket.id])
        else:
            services.add_note(actor, ticket.id, body, request_key=keys[ticket.id])
    record("triage.incident_reply" if to_customer else "triage.incident_note", incident, actor=actor,
           extra={"tickets": _ids(tickets)})
    return IncidentOutcome(incident, tickets)


def close_incident(actor, incident_id: int, note: str = "") -> IncidentOutcome:
    """Resolve the incident's open tickets together, each through the lifecycle (its history, audit event and
    guards); those a guard refuses stay open and are reported. The incident closes once none is left open."""
    incident = get_incident(actor, incident_id)
    if incident.closed_at is not None:
        return IncidentOutcome(incident)
    note = (note or "").strip()
    if len(note) > services.REASON_MAX:
        raise ServiceError(("note", _("At most %(n)d characters.", n=services.REASON_MAX)))
    outcome = IncidentOutcome(incident)
    for ticket in open_tickets(actor, incident):
        try:
            with db.session.begin_nested():
                reply.change_status(actor, ticket.id, RESOLVED)
        except ServiceError as refused:
            outcome.refused.append((ticket, _refusal(ticket, refused)))
        else:
            outcome.done.append(ticket)
    if not outcome.refused:
        incident.closed_at = utcnow()
        db.session.flush()
        record("triage.incident_close", incident, actor=actor, extra={"tickets": _ids(outcome.done), "note": note})
    elif outcome.done:
        record("triage.incident_resolve", incident, actor=actor,
               extra={"tickets": _ids(outcome.done), "refused": [t.id for t, _m in outcome.refused], "note": note})
    return outcome


def _refusal(ticket: Ticket, error: ServiceError) -> str:
    if ticket.callback_required and not services.callbacks_of(ticket):
        return _("The call-back (回访) is not recorded yet.")
    return str(error)


def leave_incident(actor, ticket: Ticket) -> Incident | None:
    """Take the ticket out of its incident (it moved to another department's queue): the incident's span and
    count shrink, and an incident left empty is closed. Audited on the incident; the incident, or None."""
    if ticket.incident_id is None:
        return None
    incident = db.session.get(Incident, ticket.incident_id)
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(incident_id=None),
                       execution_options={"synchronize_session": False})
    db.session.refresh(ticket, ["incident_id"])
    if incident is None:
        return None
    remaining = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)
                                  .where(Ticket.incident_id == incident.id))
    if remaining:
        _refresh_span(incident)
    else:
        incident.count = 0
        incident.closed_at = incident.closed_at or utcnow()
    db.session.flush()
    record("triage.incident_leave", incident, actor=actor,
           extra={"tickets": [ticket.id], "count": incident.count})
    return incident


def history(actor, incident_id: int, limit: int = 50) -> list:
    """The incident's audit events, newest first (opened, extended, assigned, noted, resolved, closed)."""
    from portal.audit.services import events_for

    incident = get_incident(actor, incident_id)
    return events_for("incident", incident.id, limit)


def incident_of(ticket: Ticket, user) -> dict | None:
    """The ticket page's panel: a link to the ticket's incident, when it is in one the user may see."""
    if ticket.incident_id is None:
        return None
    try:
        incident = get_incident(user, ticket.incident_id)
    except NotFound:
        return None
    return {"incident": incident}


def register() -> None:
    """The ticket page's link to its incident (called from hooks.setup())."""
    from portal.triage.registry import register_ticket_panel

    register_ticket_panel("triage.incident", "triage/_partials/_incident_link.html", incident_of, order=10)
