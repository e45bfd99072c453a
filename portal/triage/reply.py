"""The customer's side of a ticket: the reply (on the 查询码 page), resolving (the customer may then rate the
handling) and reopening on a poor rating of it.

* ``reply``: stored on the feedback row through ``feedback.services.set_reply`` (audited there), a REPLY event on
  the ticket (audited as ``triage.reply``), idempotent on the form's one-time key (a double click replies once).
  A reply counts as the first response.
* ``change_status``: the queue's status buttons — ``services.set_status``, plus the feedback row's resolved mark, so
  that the 查询码 page offers the rating once the ticket is resolved, and takes it back when it is reopened.
* ``on_resolution_rated`` (the ``resolution_rated`` signal): a rating of 2 or below reopens the resolved ticket
  (back to in progress), audited with no actor: the customer did it.

Email to the customer: the portal's outbox (``notify``) delivers notifications to users only — a delivery row
belongs to a notification or a digest of a portal user — so a reply is not emailed to the customer's address yet;
the ticket shows whether the customer consented to contact (``wants_email``) so staff can send it by hand.
"""
from __future__ import annotations

import sqlalchemy as sa

from portal.audit.services import record
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import services as feedback_services
from portal.triage import services, sla
from portal.triage.models import IN_PROGRESS, REPLY, RESOLVED, STATUS, Ticket, TicketEvent

POOR_RATING = 2


def wants_email(feedback) -> bool:
    """The customer left an email address and consented to be contacted about this feedback."""
    return bool(feedback.contact_email) and feedback.contact_consent_at is not None


def reply(actor, ticket_id: int, text: str, *, request_key: str | None = None) -> TicketEvent:
    """Reply to the customer (shown on the 查询码 page)."""
    ticket = services.get_ticket(actor, ticket_id)
    key = (request_key or "")[:64] or None
    if key is not None:
        earlier = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.request_key == key))
        if earlier is not None and earlier.ticket_id == ticket.id:
            return earlier
    feedback = ticket.feedback
    feedback_services.set_reply(feedback, text, actor)
    event = services._event(ticket, REPLY, actor, feedback.reply, request_key=key,
                            emailed=False, consented=wants_email(feedback))
    if ticket.first_response_at is None:
        db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id, Ticket.first_response_at.is_(None))
                           .values(first_response_at=utcnow()), execution_options={"synchronize_session": False})
        db.session.refresh(ticket)
    record("triage.reply", ticket, actor=actor, extra={"event_id": event.id})
    return event


def change_status(actor, ticket_id: int, to: str) -> Ticket:
    """A status button: the lifecycle's move, and the feedback row's resolved mark with it."""
    ticket = services.set_status(actor, ticket_id, to)
    if to == RESOLVED:
        feedback_services.set_resolved(ticket.feedback, True, actor)
    elif to == IN_PROGRESS and ticket.feedback.resolved_at is not None:
        feedback_services.set_resolved(ticket.feedback, False, actor)
    return ticket


def on_resolution_rated(feedback, rating: int | None = None, **_kwargs) -> None:
    """A poor rating of the handling (2 or below) reopens the ticket: back to in progress, audited."""
    if rating is None or rating > POOR_RATING:
        return
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.feedback_id == feedback.id))
    if ticket is None or ticket.status != RESOLVED:
        return
    services._transition(ticket, IN_PROGRESS, resolved_at=None)
    sla.after_status_change(ticket)  # the time resolved does not count: deadline and next SLA moment move
    services._event(ticket, STATUS, None, before=RESOLVED, after=IN_PROGRESS, rating=rating)
    record("triage.status", ticket, actor=None, before={"status": RESOLVED}, after={"status": IN_PROGRESS},
           extra={"reason": "resolution_rating", "rating": rating}, ip="")
    feedback_services.set_resolved(feedback, False, None)
