"""The queue's SLA-state filter (时限): breached, due today, on track — running tickets only, by their deadlines."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.core.i18n import portal_tz
from portal.core.types import utcnow
from portal.extensions import db
from portal.triage.models import AWAITING_CUSTOMER, IN_PROGRESS, Ticket
from portal.workcal.services import local_today
from tests.helpers import HX, text
from tests.triage.helpers import point, rate


def _ids(markup: str) -> set[int]:
    return {int(i) for i in re.findall(r'name="ids" value="(\d+)"', markup)}


def _set(ticket, **values) -> None:
    db.session.execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(**values))


def test_the_sla_filter_splits_running_tickets_by_their_deadlines(org, client_for):
    kf = point(org, "KF31", "KF")
    late, no_answer, today, later, paused = (rate(kf, 4, comment=f"第{n}条") for n in range(5))
    now = utcnow()
    end_of_day = datetime.combine(local_today() + timedelta(days=1), time.min, portal_tz())
    # the deadlines are moments (computed in business time when the ticket opened): set them around now
    _set(late, status=IN_PROGRESS, first_response_at=now, resolution_due_at=now - timedelta(minutes=5))
    _set(no_answer, first_response_at=None, first_response_due_at=now - timedelta(minutes=1),
         resolution_due_at=end_of_day + timedelta(days=2))
    _set(today, first_response_at=now,
         resolution_due_at=min(now + timedelta(minutes=1), end_of_day - timedelta(seconds=1)))
    _set(later, first_response_at=now, resolution_due_at=end_of_day + timedelta(days=1))
    _set(paused, status=AWAITING_CUSTOMER, first_response_at=now, resolution_due_at=now - timedelta(hours=1))
    db.session.commit()
    head = client_for(org.heads["KF"])

    def listed(state: str) -> set[int]:
        page = head.get(f"/queue/?sla={state}", headers=HX)
        assert page.status_code == 200
        return _ids(text(page))

    assert listed("breached") == {late.id, no_answer.id}
    assert listed("due_today") == {today.id}
    assert listed("on_track") == {later.id}
    # a paused ticket (awaiting the customer) is in none of them, and an unknown state filters nothing
    assert paused.id in listed("nonsense") and paused.id in listed("")
    # the badges count within the filter
    counts = text(head.get("/queue/counts?sla=breached", headers=HX))
    assert counts and head.get("/queue/counts?sla=breached").status_code == 200
    page = text(head.get("/queue/?sla=breached"))
    assert 'id="f-sla"' in page and 'value="breached" selected' in page
