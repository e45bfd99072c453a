"""Two submits of the trainer's sign-in form at the same moment (a double click, two tabs), on two connections:
both read the attendees as not signed in before either writes; the session row's lock makes the second wait
for the first to commit, and then it finds them signed. One signature per attendee, each assignment completed
once, one audit event. Committed for real (two connections), on SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.esign.models import Signature
from portal.extensions import db
from portal.org.models import User
from portal.training import sessions
from portal.training.models import BY_CLASSROOM, DONE, SessionAttendee, TrainingAssignment
from tests.documents import effective_document
from tests.helpers import DEFAULT_PASSWORD, audit, count

pytestmark = [pytest.mark.committing, pytest.mark.usefixtures("drain_queue")]
THREAD = "session-race"


def _race(app, monkeypatch, actions) -> list:
    """Each action in a thread of its own (own session, own connection); every thread waits at its first
    ``sessions.get_session`` until all have read the session, so all have seen the attendees unsigned."""
    held = threading.Barrier(len(actions))
    original = sessions.get_session
    local = threading.local()

    def holding(*args, **kwargs):
        session = original(*args, **kwargs)
        _ = [a.attended_at for a in session.attendees]  # read before anyone writes
        if threading.current_thread().name.startswith(THREAD) and not getattr(local, "held", False):
            local.held = True
            held.wait(timeout=30)
        return session

    monkeypatch.setattr(sessions, "get_session", holding)
    results: list = [None] * len(actions)

    def run(i, action):
        with app.app_context():
            try:
                results[i] = action()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, a), name=f"{THREAD}-{i}") for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a racing transaction never finished"
    monkeypatch.setattr(sessions, "get_session", original)
    return results


def test_twin_sign_ins_sign_each_attendee_once(app, org, make_user, monkeypatch):
    document = effective_document(org.author, org, process=None)  # 客服部 trains on it
    trainer = make_user("trainer_race", department=org.depts["ZL"], display_name="培训讲师")
    people = [org.employee, org.author]
    starts = utcnow() - timedelta(hours=3)
    session = sessions.create_session(org.qm, sessions.SessionFields(
        topic="并发签到", trainer_id=trainer.id, department_id=org.depts["KF"].id, starts_at=starts,
        ends_at=starts + timedelta(hours=1), document_ids=[document.id], attendee_ids=[p.id for p in people]))
    ids = {"session": session.id, "trainer": trainer.id, "people": [p.id for p in people], "document": document.id}
    db.session.commit()
    db.session.remove()

    def sign():
        return sessions.sign_attendees(db.session.get(User, ids["trainer"]), ids["session"], ids["people"],
                                       DEFAULT_PASSWORD)

    results = _race(app, monkeypatch, [sign, sign])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r.signed) for r in results) == [0, 2]
    assert sorted(r.already for r in results) == [0, 2]
    assert count(Signature, Signature.meaning == "trainer_attest") == 2
    assert count(SessionAttendee, SessionAttendee.attended_at.is_not(None)) == 2
    done = list(db.session.scalars(sa.select(TrainingAssignment).where(
        TrainingAssignment.document_id == ids["document"], TrainingAssignment.user_id.in_(ids["people"]))))
    assert len(done) == 2 and all((a.status, a.completed_by, a.session_id) == (DONE, BY_CLASSROOM, ids["session"])
                                  for a in done)
    assert len(audit("training.session_sign")) == 1
