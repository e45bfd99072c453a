"""The same submission twice at the same moment (a double tap on two connections, a tablet's retry racing its
first attempt): both requests are checked before either writes, so only the database's unique key can
decide. One row, the same id and 查询码 for both, one notification. Runs on SQLite (the second writer
waits for the first's lock) and on PostgreSQL (the second insert waits on the unique index)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.feedback import services
from portal.feedback.models import Feedback
from portal.notify.models import Notification
from tests.feedback.helpers import make_point
from tests.helpers import create_department, create_user

pytestmark = [pytest.mark.committing, pytest.mark.usefixtures("drain_queue")]


def test_two_simultaneous_submissions_with_one_key_store_one_row(app, monkeypatch):
    head = create_user("race_head")
    point = make_point("RC01", create_department(name="并发测试部", head=head))
    db.session.commit()
    point_id = point.id

    both_checked = threading.Barrier(2)
    original = services._insert_new
    held = threading.local()

    def insert_after_both_checked(values):
        if threading.current_thread().name.startswith("race") and not getattr(held, "done", False):
            held.done = True
            both_checked.wait(timeout=20)  # both have checked the submission; neither has written
        return original(values)

    monkeypatch.setattr(services, "_insert_new", insert_after_both_checked)
    results: list = [None, None]

    def submit(i: int) -> None:
        with app.app_context():
            try:
                from portal.feedback.models import ServicePoint

                got = services.receive(services.Submission(rating=1, comment="同时提交"), services.Intake(
                    channel="tablet", idempotency_key="kiosk:same-token", point=db.session.get(ServicePoint, point_id)))
                db.session.commit()
                results[i] = (got.feedback.id, got.query_code, got.created)
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(i,), name=f"race-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(r, tuple) for r in results), results
    (id1, code1, created1), (id2, code2, created2) = results
    assert id1 == id2 and code1 == code2 and sorted([created1, created2]) == [False, True]
    db.session.rollback()  # end this thread's read transaction: on SQLite its snapshot predates the threads' commits
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Feedback)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.recipient_id == head.id)) == 1
