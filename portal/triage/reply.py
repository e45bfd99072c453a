"""The customer's side of a ticket: the reply (on the 查询码 page), resolving (the customer may then rate the
handling) and reopening on a poor rating of it.

* ``reply``: stored on the feedback row through ``feedback.services.set_reply`` (audited there), a REPLY event on
  the ticket (audited as ``triage.reply``), idempotent on the form's one-time key (a double click replies once).
  A reply counts as the first response.
* ``change_status``: the queue's status buttons — ``services.set_status``, plus the feedback row's resolved mark, so
  that the 查询码 page offers the rating once the ticket is resolved, and takes it back when it is reopened.
* ``on_resolution_rated`` (the ``resolution_rated`` signal): a rating of 2 or below reopens the resolved ticket
  (back to in progress), audited with no actor: the customer did it.

Email to the customer: when the customer left an address and consented to contact (``wants_email``), the reply
is also emailed, through the notification outbox (``notify.services.email_address``: one row in the reply's
transaction, sent after commit, retried while the mail server is down, once per reply). The outbox row keeps the
address and the reply event's id; the message is written at send time (``render_reply_email``, registered as the
email source ``triage.reply``): the service point, the reply, the 查询码 and, where the portal has a public address,
the link to the 查询码 page — never the internal ticket. The history and the audit trail name the address masked
(``k***@example.cn``).
"""
from __future__ import annotations

import sqlalchemy as sa

from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import codes
from portal.feedback import services as feedback_services
from portal.notify.mail import render_email
from portal.notify.registry import AddressedEmail
from portal.notify.services import email_address, email_statuses
from portal.org.services import mask_email
from portal.triage import services, sla
from portal.triage.models import IN_PROGRESS, REPLY, RESOLVED, STATUS, Ticket, TicketEvent

POOR_RATING = 2
#: The email source of replies to the customer (``notify.registry.register_email_source``).
REPLY_EMAIL = "triage.reply"


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
    emailed = wants_email(feedback)
    masked = {"email_to": mask_email(feedback.contact_email)} if emailed else {}
    event = services._event(ticket, REPLY, actor, feedback.reply, request_key=key,
                            emailed=emailed, consented=emailed, **masked)
    if emailed:
        email_address(feedback.contact_email, REPLY_EMAIL, event.id)
    if ticket.first_response_at is None:
        db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id, Ticket.first_response_at.is_(None))
                           .values(first_response_at=utcnow()), execution_options={"synchronize_session": False})
        db.session.refresh(ticket)
    record("triage.reply", ticket, actor=actor,
           extra={"event_id": event.id, **({"emailed_to": masked["email_to"]} if emailed else {})})
    return event


def reply_email_statuses(events) -> dict[int, str]:
    """{reply event id: its email's delivery status} for the events of a history that were emailed."""
    return email_statuses(REPLY_EMAIL, [e.id for e in events if e.kind == REPLY and (e.data or {}).get("emailed")])


def public_base_url() -> str:
    """The address customers reach the portal by (the one printed in the QR codes: PORTAL_KIOSK_BASE_URL, else
    PORTAL_BASE_URL), or "" when that is a loopback address (the default), which would lead a customer
    nowhere."""
    base = (current_app.config.get("PORTAL_KIOSK_BASE_URL") or current_app.config.get("PORTAL_BASE_URL") or "")
    host = (urlsplit(base).hostname or "").lower()
    if not host or host == "localhost" or host.startswith("127.") or host == "::1":
        return ""
    return base.rstrip("/")


def render_reply_email(event_id: int) -> AddressedEmail | None:
    """The email of one reply (the email source ``triage.reply``), or None when the reply is gone. It names the
    service point and the 查询码 (the current one, should it have been reissued) and links to the 查询码 page
    when the portal has a public address; nothing of the internal ticket."""
    event = db.session.get(TicketEvent, event_id)
    if event is None or event.kind != REPLY:
        return None
    feedback = db.session.get(Ticket, event.ticket_id).feedback
    code = codes.unseal_query_code(feedback.query_code_sealed)
    point = feedback.service_point
    where = point.name if point is not None else (feedback.department.name if feedback.department else "")
    link = ""
    base = public_base_url()
    if base:
        with current_app.test_request_context(base_url=base):
            link = url_for("kiosk.query", code=code, _external=True)
    shown = codes.display_query_code(code)
    subject = _("Reply to your feedback at %(where)s (follow-up code %(code)s)", where=where, code=shown)
    text, html = render_email("customer_reply", subject=subject, where=where, code=shown, reply=event.body,
                              link=link)
    return AddressedEmail(subject=subject, text=text, html=html)


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
