"""The demo queues: a ticket for every feedback row that has none (the demo's rows are bulk-inserted without
``feedback_received``), routed as the subscriber routes, in states by age; idempotent."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback.models import Feedback
from portal.triage.demo import seed_tickets
from portal.triage.models import BY_MATRIX, CLOSED, RESOLVED, Ticket, TicketEvent
from tests.helpers import count
from tests.triage.helpers import point, rate


def test_the_demo_seeder_opens_the_missing_tickets_once(org):
    matrix_point = point(org, "KF20", "KF", process="T-03")  # routed to 运营部 by the matrix
    old, middle, fresh, bad = (rate(matrix_point, 5), rate(matrix_point, 4), rate(matrix_point, 3),
                               rate(matrix_point, 1))
    ages = {old.feedback_id: 20, middle.feedback_id: 5, fresh.feedback_id: 0, bad.feedback_id: 5}
    db.session.execute(sa.delete(TicketEvent))
    db.session.execute(sa.delete(Ticket))  # as the bulk-inserted demo rows: no tickets
    for feedback_id, days in ages.items():
        db.session.execute(sa.update(Feedback).where(Feedback.id == feedback_id)
                           .values(created_at=utcnow() - timedelta(days=days, hours=1)))
    assert seed_tickets() == 4
    assert seed_tickets() == 0 and count(Ticket) == 4
    tickets = {t.feedback_id: t for t in db.session.scalars(sa.select(Ticket))}
    assert {t.department_id for t in tickets.values()} == {org.depts["YY"].id}
    assert {t.routed_by for t in tickets.values()} == {BY_MATRIX}
    assert tickets[old.feedback_id].status == CLOSED
    assert tickets[middle.feedback_id].status == RESOLVED
    assert tickets[bad.feedback_id].status not in (CLOSED, RESOLVED)  # a recent 差评 is still being worked
    assert tickets[fresh.feedback_id].resolution_due_at is not None


def test_the_demo_loop_shows_rectifications_appeals_and_an_incident_once(org, make_user):
    from portal.core.roles import QUALITY_MANAGER
    from portal.esign.models import Signature
    from portal.org.demo import DEMO_PASSWORD
    from portal.triage.demo import seed_loop
    from portal.triage.models import APPEAL_PENDING, APPEAL_UPHELD, Appeal, Incident

    make_user("quality", roles=(QUALITY_MANAGER,), password=DEMO_PASSWORD)
    kf_point = point(org, "KF21", "KF")
    worked = rate(kf_point, 1)
    recent = [rate(kf_point, 2), rate(kf_point, 1)]
    db.session.execute(sa.update(Ticket).where(Ticket.id == worked.id).values(status=CLOSED))
    db.session.execute(sa.update(Ticket).values(incident_id=None))  # three 差评 at one point within the hour
    db.session.execute(sa.delete(Incident))  # were grouped already: start without an incident

    added = seed_loop()
    assert added == 1 + 2 + 3
    db.session.expire_all()
    closed = db.session.get(Ticket, worked.id)
    assert closed.rectified_at is not None and closed.rectification_note
    appeals = {a.ticket_id: a for a in db.session.scalars(sa.select(Appeal))}
    assert sorted(a.status for a in appeals.values()) == [APPEAL_PENDING, APPEAL_UPHELD]
    assert set(appeals) <= {t.id for t in recent} | set(
        db.session.scalars(sa.select(Ticket.id).where(Ticket.negative.is_(True))))
    upheld = next(a for a in appeals.values() if a.status == APPEAL_UPHELD)
    assert db.session.get(Signature, upheld.signature_id).meaning == "appeal_decision"
    incident = db.session.scalar(sa.select(Incident))
    assert incident is not None and incident.count >= 3  # the burst's three, and the earlier 差评 of the hour
    assert seed_loop() == 0
    assert count(Appeal) == 2 and count(Incident) == 1
