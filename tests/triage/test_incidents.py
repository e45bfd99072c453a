"""Burst grouping: N 差评 at one point within the window open one incident (idempotently), later ones join it,
others stay alone; closing the incident resolves its tickets together, after their call-backs; isolation."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound
from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import incidents, services
from portal.triage.models import RESOLVED, Incident, Ticket
from tests.helpers import SHANGHAI, audit, count
from tests.triage.helpers import point, rate

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def test_three_bad_ratings_within_the_hour_open_one_incident(org):
    kf = point(org, "KF30", "KF")
    first, second = rate(kf, 1), rate(kf, 2)
    rate(kf, 5)  # a good rating is no part of it
    assert first.incident_id is None and second.incident_id is None and count(Incident) == 0
    third = rate(kf, 1, key="burst-3")
    db.session.expire_all()
    incident = db.session.get(Incident, third.incident_id)
    assert incident is not None and incident.count == 3
    assert {t.incident_id for t in (first, second, third)} == {incident.id}
    assert (incident.service_point_id, incident.department_id) == (kf.id, org.depts["KF"].id)
    assert len(audit("triage.incident_open")) == 1
    # A replay of the third changes nothing; a fourth joins the open incident.
    rate(kf, 1, key="burst-3")
    incidents.check_burst(db.session.get(Ticket, third.id))
    assert count(Incident) == 1 and db.session.get(Incident, incident.id).count == 3
    fourth = rate(kf, 2)
    assert fourth.incident_id == incident.id and db.session.get(Incident, incident.id).count == 4
    assert count(Incident) == 1 and len(audit("triage.incident_extend")) == 1
    # Another point's 差评 stay apart.
    other = point(org, "KF31", "KF")
    assert rate(other, 1).incident_id is None


def test_ratings_spread_beyond_the_window_or_spam_do_not_group(org, app, monkeypatch):
    kf = point(org, "KF32", "KF")
    base = datetime(2025, 10, 13, 9, 0, tzinfo=SHANGHAI)
    tickets = [rate(kf, 1) for _ in range(3)]
    db.session.execute(Ticket.__table__.update().values(incident_id=None))
    db.session.query(Incident).delete()
    for n, ticket in enumerate(tickets):  # 09:00, 09:45, 10:30: no hour holds three
        ticket.received_at, ticket.incident_id = base + timedelta(minutes=45 * n), None
    db.session.flush()
    assert incidents.check_burst(tickets[2]) is None and count(Incident) == 0
    monkeypatch.setitem(app.config, "PORTAL_TRIAGE_BURST_MINUTES", 90)
    assert incidents.check_burst(tickets[2]) is not None
    spam = rate(kf, 1)
    spam.is_spam, spam.incident_id = True, None
    db.session.flush()
    assert incidents.check_burst(spam) is None


def test_the_count_is_a_setting(org, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_TRIAGE_BURST_COUNT", 2)
    kf = point(org, "KF33", "KF")
    rate(kf, 1)
    assert rate(kf, 1).incident_id is not None


def test_closing_an_incident_resolves_its_tickets_after_the_call_backs(org):
    """The tickets a guard allows are resolved at once; one still needing its call-back stays open and is named,
    and the incident stays open until it is resolved too."""
    kf = point(org, "KF34", "KF")
    tickets = [rate(kf, 1), rate(kf, 1, contact="13800138000", consent=True), rate(kf, 2)]
    incident_id = tickets[0].incident_id
    member = org.kf_member
    assert [i.id for i in incidents.open_incidents(member)] == [incident_id]
    assert incidents.open_incidents(org.heads["YY"]) == []
    outcome = incidents.close_incident(member, incident_id, "统一处理")
    assert [t.id for t in outcome.done] == [tickets[0].id, tickets[2].id]
    assert [t.id for t, _why in outcome.refused] == [tickets[1].id]
    db.session.expire_all()
    assert [db.session.get(Ticket, t.id).status for t in tickets] == [RESOLVED, "new", RESOLVED]
    assert db.session.get(Incident, incident_id).closed_at is None
    assert audit("triage.incident_resolve")[-1].summary["refused"] == [tickets[1].id]
    services.record_callback(member, tickets[1].id, called_at=utcnow(), outcome="reached", note="已致歉")
    outcome = incidents.close_incident(member, incident_id, "系统故障已修复")
    assert outcome.incident.closed_at is not None and not outcome.refused
    assert {db.session.get(Ticket, t.id).status for t in tickets} == {RESOLVED}
    assert audit("triage.incident_close")[-1].summary["tickets"] == [tickets[1].id]
    assert len(audit("triage.status")) == 3
    # Closing again changes nothing.
    assert not incidents.close_incident(member, incident_id).done and len(audit("triage.incident_close")) == 1
    # A later 差评 at the point opens no incident by itself: the closed one is not extended.
    assert rate(kf, 1).incident_id is None


def test_a_head_of_another_department_gets_not_found(org):
    kf = point(org, "KF35", "KF")
    incident_id = [rate(kf, 1) for _ in range(3)][-1].incident_id
    stranger = org.heads["YY"]
    for action in (incidents.get_incident, incidents.tickets_of, incidents.close_incident):
        with pytest.raises(NotFound):
            action(stranger, incident_id)
    assert db.session.get(Incident, incident_id).closed_at is None
    assert len(incidents.tickets_of(org.heads["KF"], incident_id)) == 3


@pytest.mark.committing
@pytest.mark.usefixtures("drain_queue")
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers: two ratings never group at the same moment "
                                            "there (run with TEST_DATABASE_URL=postgresql…)")
def test_two_simultaneous_bad_ratings_open_one_incident(app, matrix_org, monkeypatch):
    """The third and fourth 差评 of a burst on two connections, both held after their tickets were written and
    before grouping: the point's lock makes one open the incident and the other join it."""
    from portal.feedback import services as feedback_services
    from portal.feedback.models import ServicePoint

    kf = point(matrix_org, "KF36", "KF")
    rate(kf, 1)
    rate(kf, 2)
    db.session.commit()
    point_id = kf.id
    both_written = threading.Barrier(2)
    original = incidents._lock

    def lock_after_both_wrote(point_id_):
        if threading.current_thread().name.startswith("burst"):
            both_written.wait(timeout=20)
        return original(point_id_)

    monkeypatch.setattr(incidents, "_lock", lock_after_both_wrote)
    errors: list = []

    def submit(i: int) -> None:
        with app.app_context():
            try:
                feedback_services.receive(
                    feedback_services.Submission(rating=1, comment=f"同时差评 {i}"),
                    feedback_services.Intake(channel="kiosk", idempotency_key=f"burst-race-{i}",
                                             point=db.session.get(ServicePoint, point_id)))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(i,), name=f"burst-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    db.session.expire_all()
    assert count(Incident) == 1
    incident = db.session.scalar(sa.select(Incident))
    assert incident.count == 4 and count(Ticket, Ticket.incident_id == incident.id) == 4
