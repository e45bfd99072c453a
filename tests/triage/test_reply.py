"""The customer's side of a ticket: the reply shows on the 查询码 page; resolving lets the customer rate the
handling; a poor rating (2 or below) reopens the ticket, audited — through the pages."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.feedback import services as feedback_services
from portal.triage.models import IN_PROGRESS, RESOLVED, Ticket, TicketEvent
from tests.helpers import audit, count, text
from tests.triage.helpers import point, ticket_of


def _received(org, rating: int = 2, consent: bool = False):
    kf = point(org, "KF01", "KF")
    received = feedback_services.receive(
        feedback_services.Submission(rating=rating, comment="窗口太慢", contact="kehu@example.cn" if consent else "",
                                     consent=consent),
        feedback_services.Intake(channel="kiosk", idempotency_key=feedback_services.new_request_key(), point=kf))
    db.session.commit()
    return received.query_code, ticket_of(received.feedback)


def test_the_reply_shows_on_the_query_page_and_a_poor_rating_reopens(org, client_for, client):
    code, ticket = _received(org)
    member = client_for(org.kf_member)
    assert member.post(f"/queue/{ticket.id}/reply", data={"reply-text": "您好，我们已加开窗口。",
                                                          "reply-request_key": "k-1"}).status_code in (302, 303)
    page = text(client.get(f"/q/{code}"))
    assert "我们已加开窗口" in page
    assert 'name="rating"' not in page  # not resolved yet: nothing to rate
    member.post(f"/queue/{ticket.id}/status", data={"st-to": "in_progress"})
    member.post(f"/queue/{ticket.id}/status", data={"st-to": "resolved"})
    page = text(client.get(f"/q/{code}"))
    assert 'name="rating"' in page
    assert client.post(f"/q/{code}/rate", data={"rating": "1"}).status_code in (302, 303)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == IN_PROGRESS and ticket.resolved_at is None
    assert ticket.feedback.resolution_rating == 1 and ticket.feedback.resolved_at is None
    reopened = audit("triage.status", ticket)[-1]
    assert reopened.summary["after"] == {"status": IN_PROGRESS} and reopened.actor_id is None
    # the history says why
    assert "非常不满意" in text(member.get(f"/queue/{ticket.id}")) or "Very dissatisfied" in text(
        member.get(f"/queue/{ticket.id}"))
    # resolved again, the customer may rate again; a good rating leaves it resolved
    member.post(f"/queue/{ticket.id}/status", data={"st-to": "resolved"})
    client.post(f"/q/{code}/rate", data={"rating": "5"})
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == RESOLVED


def test_a_reply_records_whether_the_customer_wants_email(org, client_for):
    _code, ticket = _received(org, consent=True)
    member = client_for(org.kf_member)
    page = text(member.get(f"/queue/{ticket.id}"))
    assert "kehu@example.cn" in page
    member.post(f"/queue/{ticket.id}/reply", data={"reply-text": "已处理", "reply-request_key": "k-2"})
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.kind == "reply"))
    assert event.data == {"emailed": True, "consented": True, "email_to": "k***@example.cn"}
    assert db.session.get(Ticket, ticket.id).first_response_at is not None
    assert count(TicketEvent, TicketEvent.kind == "reply") == 1
