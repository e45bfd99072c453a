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

**Closing** an incident (``close_incident``, the members and head of its department, or a manager) resolves its
open tickets together, through the lifecycle's rules: when any of them still needs its call-back (回访), nothing
is closed and the error names them.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import NotFound, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import services
from portal.triage.models import OPEN_STATUSES, RESOLVED, Incident, Ticket

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
    return list(db.session.scalars(sa.select(Ticket).where(Ticket.incident_id == incident.id)
                                   .order_by(Ticket.received_at, Ticket.id)))


def open_incidents(actor) -> list[Incident]:
    """The open incidents of the queues the actor works, newest first."""
    query = sa.select(Incident).where(Incident.closed_at.is_(None))
    visible = services.queue_department_ids(actor)
    if visible is not None:
        query = query.where(Incident.department_id.in_(visible or [-1]))
    return list(db.session.scalars(query.order_by(Incident.last_at.desc(), Incident.id.desc())))


def close_incident(actor, incident_id: int, note: str = "") -> Incident:
    """Close the incident and resolve its open tickets together (each through the lifecycle, with its history
    and audit event). Refused, changing nothing, while a ticket in it still needs its call-back."""
    incident = get_incident(actor, incident_id)
    if incident.closed_at is not None:
        return incident
    tickets = [t for t in tickets_of(actor, incident.id) if services.may_work(actor, t)]
    waiting = [t for t in tickets if t.is_open and t.callback_required and not services.callbacks_of(t)]
    if waiting:
        raise ServiceError((None, _("Record the call-back (回访) of these 差评 before closing the incident: "
                                    "%(tickets)s.", tickets="、".join(f"#{t.feedback_id}" for t in waiting))))
    resolved = []
    for ticket in tickets:
        if ticket.status in OPEN_STATUSES:
            services.set_status(actor, ticket.id, RESOLVED)
            resolved.append(ticket.id)
    incident.closed_at = utcnow()
    db.session.flush()
    record("triage.incident_close", incident, actor=actor,
           extra={"tickets": resolved, "note": (note or "").strip()[:services.REASON_MAX]})
    return incident
