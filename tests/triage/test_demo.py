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
