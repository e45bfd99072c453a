"""The RQ jobs of the backbone against the test Redis: the per-minute tick and the daily digest run."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db, rq
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.jobs import run_digest, tick
from portal.notify.models import DIGEST, INAPP, SENT, CapturedEmail, Delivery, Digest
from portal.notify.services import notify, set_preference
from portal.core.roles import DEPT_HEAD, EMPLOYEE
from tests.helpers import count, sh
from tests.notify.helpers import email_deliveries_of

DAY = date(2025, 9, 30)  # a Tuesday, a working day
DAYS = [DAY, date(2025, 10, 1)]


@pytest.fixture
def queue(redis_url, drain_queue):
    """The default queue, empty, and no digest marks left in Redis for the days used here."""
    q = rq.queue("default")
    keys = [f"portal:digest-{what}:{d.isoformat()}" for d in DAYS for what in ("done", "running")]
    q.empty()
    rq.connection.delete(*keys)
    yield q
    rq.connection.delete(*keys)


@pytest.fixture
def unlink_heads():
    """tests/conftest.py empties the tables of a committing test with ``PRAGMA foreign_keys=OFF`` on SQLite, but
    inside the transaction (BEGIN IMMEDIATE) where that pragma does nothing: a department whose head is a user
    then blocks ``DELETE FROM user``. Break the cycle before the tables are emptied."""
    yield
    from portal.org.models import Department

    db.session.rollback()
    db.session.execute(sa.update(Department).values(head_id=None))
    db.session.commit()


def _jobs(q, name):
    return [job for job in q.get_jobs() if job.func_name.endswith(name)]


def test_tick_enqueues_due_deliveries_and_starts_the_digest_once_a_day(queue, make_user):
    user = make_user()
    # Raised in quiet hours: not enqueued after commit, left for the sweeper at 08:00.
    note = notify(user, ANNOUNCEMENT, "夜间工单提醒", now=sh(2025, 9, 29, 22, 0))
    [delivery] = email_deliveries_of(note)

    assert tick(now=sh(2025, 9, 30, 7, 59).isoformat()) == {"batches": 0, "digest": False}
    assert queue.count == 0

    moment = sh(2025, 9, 30, 8, 31).isoformat()
    assert tick(now=moment) == {"batches": 1, "digest": True}
    [deliver] = _jobs(queue, "deliver_batch")
    assert deliver.args == ([delivery.id],)
    [digest_job] = _jobs(queue, "run_digest")
    assert digest_job.args[0] == DAY.isoformat()

    # A minute later: the delivery is still due (no worker ran), the digest is not started twice.
    assert tick(now=moment) == {"batches": 1, "digest": False}
    assert len(_jobs(queue, "run_digest")) == 1
    assert len(_jobs(queue, "deliver_batch")) == 2

    # The running mark expires (the worker died): a later tick starts the day again.
    rq.connection.delete(f"portal:digest-running:{DAY.isoformat()}")
    assert tick(now=moment)["digest"] is True
    # Once a run finished, never again that day.
    rq.connection.set(f"portal:digest-done:{DAY.isoformat()}", "1")
    rq.connection.delete(f"portal:digest-running:{DAY.isoformat()}")
    assert tick(now=moment)["digest"] is False


def test_no_digest_on_a_holiday(queue):
    assert tick(now=sh(2025, 10, 1, 8, 31).isoformat()) == {"batches": 0, "digest": False}
    assert _jobs(queue, "run_digest") == []


@pytest.mark.committing
def test_run_digest_twice_sends_each_user_one_digest(queue, make_user, make_department, unlink_heads):
    team = make_department(name="售后服务部")
    head = make_user(roles=(EMPLOYEE, DEPT_HEAD), department=team, display_name="部门经理")
    team.head = head
    alice = make_user(display_name="艾丽丝")
    bob = make_user(display_name="鲍勃")
    staff = make_user(department=team, display_name="小张")
    idle = make_user(display_name="无事")
    for user in (head, alice, bob, staff, idle):
        set_preference(user, ANNOUNCEMENT, DIGEST)
    notify(alice, ANNOUNCEMENT, "回访：张女士的投诉", now=sh(2025, 9, 29, 10, 0))
    notify(alice, ANNOUNCEMENT, "复核：门店评分", now=sh(2025, 9, 29, 11, 0))
    notify(bob, ANNOUNCEMENT, "培训：投诉处理流程", now=sh(2025, 9, 28, 9, 0))
    notify(staff, ANNOUNCEMENT, "逾期未读的通知", now=sh(2025, 9, 25, 9, 0))  # unread for more than 3 days
    db.session.commit()
    assert count(Delivery) == 0

    moment = sh(2025, 9, 30, 8, 31).isoformat()
    assert run_digest(DAY.isoformat(), now=moment) == 4
    assert run_digest(DAY.isoformat(), now=moment) == 0

    rows = {d.user_id: d for d in db.session.scalars(sa.select(Digest))}
    assert set(rows) == {head.id, alice.id, bob.id, staff.id}  # idle has nothing: no digest
    assert [s["key"] for s in rows[head.id].sections] == ["team"]
    assert "小张" in rows[head.id].sections[0]["items"][0]["title"]
    assert rows[alice.id].item_count == 2 and rows[bob.id].item_count == 1
    assert all(d.day == DAY for d in rows.values())

    sent = list(db.session.scalars(sa.select(Delivery).where(Delivery.digest_id.is_not(None))))
    assert sorted(d.recipient_id for d in sent) == sorted(rows)
    assert all(d.status == SENT and d.idempotency_key == f"digest:{d.recipient_id}:2025-09-30" for d in sent)
    mails = list(db.session.scalars(sa.select(CapturedEmail)))
    assert sorted(m.to for m in mails) == sorted(u.email for u in (head, alice, bob, staff))
    assert "回访：张女士的投诉" in next(m.text for m in mails if m.to == alice.email)

    assert rq.connection.exists(f"portal:digest-done:{DAY.isoformat()}")
    assert not rq.connection.exists(f"portal:digest-running:{DAY.isoformat()}")
    # The next tick of the day does not start it again.
    assert tick(now=moment)["digest"] is False


@pytest.mark.committing
def test_inapp_only_users_still_get_the_digest_of_their_unread_notifications(queue, make_user):
    user = make_user()
    set_preference(user, ANNOUNCEMENT, INAPP)
    notify(user, ANNOUNCEMENT, "仅站内通知", now=sh(2025, 9, 29, 10, 0))
    db.session.commit()
    assert run_digest(DAY.isoformat(), now=sh(2025, 9, 30, 8, 31).isoformat()) == 1
    assert count(Digest) == 1
