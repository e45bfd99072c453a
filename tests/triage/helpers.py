"""Helpers of the triage tests: service points made by the quality manager and feedback received through the
intake service, as the kiosk and staff entry do."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.feedback import services as feedback_services
from portal.triage.models import Ticket


def point(org, code: str, dept: str, process: str | None = None):
    return feedback_services.create_point(org.qm, feedback_services.PointFields(
        code=code, name=f"{code} 窗口", location="一楼", department_id=org.depts[dept].id,
        process_id=org.procs[process].id if process else None, opening_hours="", categories_text=""))


def rate(service_point, rating: int, *, categories=(), comment: str = "", contact: str = "", consent: bool = False,
         key: str | None = None):
    """A kiosk rating; returns its ticket."""
    received = feedback_services.receive(
        feedback_services.Submission(rating=rating, categories=list(categories), comment=comment, contact=contact,
                                     consent=consent),
        feedback_services.Intake(channel="kiosk", idempotency_key=key or feedback_services.new_request_key(),
                                 point=service_point))
    return ticket_of(received.feedback)


def ticket_of(feedback) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(sa.select(Ticket).where(Ticket.feedback_id == feedback.id))
