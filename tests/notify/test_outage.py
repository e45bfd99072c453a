"""Nothing is lost when Redis is down, and nothing is sent twice when a worker dies mid-run.

These tests use real processes: a private redis-server killed with SIGKILL, an RQ worker killed with
SIGKILL, a loopback SMTP server (aiosmtpd), and the suite's database (SQLite or PostgreSQL).
"""
from __future__ import annotations

import os
import re
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from portal.extensions import db, rq
from portal.notify.models import SENT, Delivery, Digest
from portal.notify.services import notify, save_settings
from portal.core.roles import ADMIN
from tests.faults import CollectingHandler, SMTPServer, start_worker

pytestmark = [pytest.mark.committing, pytest.mark.slow]




def _configure_smtp(admin, port: int) -> None:
    save_settings(admin, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_user="",
                  smtp_password=None, smtp_from="服务质量门户 <portal@example.cn>",
                  quiet_start="00:00", quiet_end="00:00", digest_time="08:30")  # no quiet hours: send at once


def _announce(client, department_id: int, n: int):
    page = client.get("/notifications/announce").get_data(as_text=True)
    request_id = re.search(r'name="request_id" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    return client.post("/notifications/announce", data={
        "department_id": str(department_id), "title": f"第{n}号通知：请查收", "body": "服务质量门户测试", "request_id": request_id,
    })


def _run_burst_worker(database_url: str, redis_url: str, log) -> None:
    worker = start_worker(database_url, redis_url, burst=True, log=log)
    assert worker.wait(timeout=120) == 0, log.read_text()[-3000:]


def test_redis_outage_delays_but_never_loses_or_duplicates(client, make_user, make_department, login, private_redis,
                                                           database_url, tmp_path):
    admin = make_user("outage_admin", roles=(ADMIN,))
    team = make_department(name="外呼组")
    make_user("outage_target", department=team)
    db.session.commit()
    login(client, admin)

    with SMTPServer(CollectingHandler()) as smtp:
        _configure_smtp(admin, smtp.port)
        db.session.commit()
        for n in range(50):
            assert _announce(client, team.id, n).status_code == 303
        assert rq.queue().count == 50  # each request enqueued its delivery after commit

        private_redis.kill9()
        for n in range(50, 100):
            response = _announce(client, team.id, n)
            assert response.status_code == 303, response.get_data(as_text=True)[:300]

        private_redis.start()  # a new, empty Redis: the 50 queued jobs are gone with the old one
        assert rq.queue().count == 0
        from portal.notify.jobs import sweep_outbox

        sweep_outbox()
        sweep_outbox()  # a second sweep enqueues the same rows again: the claim must stop a double send
        db.session.commit()  # hold no transaction while the worker runs
        log = tmp_path / "worker.log"
        _run_burst_worker(database_url, private_redis.url, log)

        subjects = [str(m["Subject"]) for m in smtp.handler.messages]
        assert len(subjects) == 100, log.read_text()[-3000:]
        assert len(set(subjects)) == 100
        assert Counter(str(m["Message-ID"]) for m in smtp.handler.messages).most_common(1)[0][1] == 1
    db.session.expire_all()
    statuses = Counter(db.session.scalars(sa.select(Delivery.status)))
    assert statuses == {SENT: 100}


def test_worker_killed_mid_digest_each_user_gets_exactly_one(make_user, make_department, private_redis, database_url,
                                                            tmp_path):
    admin = make_user("digest_admin", roles=(ADMIN,))
    dept = make_department(name="柜面组")
    users = [make_user(f"digest_u{i}", department=dept) for i in range(20)]
    now = datetime(2025, 9, 29, 0, 35, tzinfo=timezone.utc)  # Monday 08:35 in Shanghai, a working day
    for user in users:
        notify(user, "system.announcement", f"请阅读新版服务规范（{user.username}）", now=now - timedelta(hours=2))
    db.session.commit()
    # The notifications themselves were emailed instantly; mark those deliveries sent so that only the
    # digest is in flight here.
    db.session.execute(sa.update(Delivery).values(status=SENT))
    db.session.commit()

    handler = CollectingHandler(block_at=8)
    with SMTPServer(handler) as smtp:
        _configure_smtp(admin, smtp.port)
        db.session.commit()
        from portal.notify.jobs import run_digest

        rq.enqueue_now(run_digest, "2025-09-29", now.isoformat())
        db.session.commit()
        log = tmp_path / "worker.log"
        worker = start_worker(database_url, private_redis.url, burst=False, log=log)
        try:
            assert handler.reached.wait(timeout=120), log.read_text()[-3000:]
            assert len(handler.messages) == 7  # seven digests accepted, the eighth in flight
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        handler.release.set()  # the in-flight message is refused: its client is dead

        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Digest)) == 20
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.digest_id.is_not(None), Delivery.status == SENT)) == 7

        # Restart: the sweeper (a later tick) returns the rows the dead worker held to pending; a new
        # worker sends them. Running the whole digest again must not add anything.
        from portal.notify.jobs import tick

        later = now + timedelta(hours=1)
        tick(later.isoformat())
        rq.enqueue_now(run_digest, "2025-09-29", later.isoformat())
        db.session.commit()
        _run_burst_worker(database_url, private_redis.url, log)

    per_user = Counter(str(m["To"]) for m in handler.messages)
    assert sorted(per_user) == sorted(u.email for u in users), log.read_text()[-3000:]
    assert set(per_user.values()) == {1}
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Digest)) == 20
    assert Counter(db.session.scalars(sa.select(Delivery.status).where(Delivery.digest_id.is_not(None)))) == {SENT: 20}
