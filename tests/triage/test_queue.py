"""The queue pages: the list (filters, keyset pages, query counts, status counts), the ticket page and its actions,
bulk actions — and department isolation on every endpoint (a head of department A gets 404 for anything of B's,
a bulk action with one foreign id smuggled in changes nothing)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import services
from portal.triage.models import CLOSED, IN_PROGRESS, RESOLVED, Ticket, TicketEvent
from tests.helpers import HX, audit, count, count_queries, text
from tests.triage.helpers import point, rate


@pytest.fixture
def queues(org):
    kf, yy = point(org, "KF01", "KF"), point(org, "YY01", "YY")
    kf_tickets = [rate(kf, 4, comment=f"客服{n}") for n in range(3)]
    yy_ticket = rate(yy, 2, comment="运营的差评")
    db.session.commit()
    return dict(org=org, kf=kf, yy=yy, kf_tickets=kf_tickets, yy_ticket=yy_ticket)


def _ids(markup: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', markup)]


def test_a_head_sees_their_queue_and_the_counts(queues, client_for):
    org = queues["org"]
    kf_head = client_for(org.heads["KF"])
    page = kf_head.get("/queue/")
    assert page.status_code == 200
    assert sorted(_ids(text(page))) == sorted(t.id for t in queues["kf_tickets"])
    partial = kf_head.get("/queue/counts", headers=HX)
    assert partial.status_code == 200 and 'hx-trigger="every 30s"' in text(partial)
    assert kf_head.get(f"/queue/{queues['kf_tickets'][0].id}").status_code == 200
    assert kf_head.get(f"/queue/{queues['kf_tickets'][0].id}", headers=HX).status_code == 200
