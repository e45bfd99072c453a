"""Every process loads the same domains: a real RQ worker process (it builds its own app for its jobs, it
never serves a request) and ``rq cron`` see the same registries as the web app."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import redis
from rq import Queue
from rq.job import Job

from portal.domains import wiring_report
from tests.faults import BIN, ROOT, worker_env

pytestmark = pytest.mark.slow


def test_a_worker_process_sees_the_web_apps_kinds_sections_and_metrics(app, database_url, redis_url, tmp_path):
    in_web_app = wiring_report()
    assert "policy.reminder" in in_web_app["notification_kinds"]
    assert "policy" in in_web_app["digest_sections"]
    assert "policy.acknowledgement_rate" in in_web_app["metrics"]

    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"wiring-{uuid.uuid4().hex[:8]}", connection=connection)
    job = queue.enqueue("portal.domains.report_wiring")
    log = tmp_path / "worker.log"
    worker = subprocess.run([str(BIN / "rq"), "worker", "--burst", "--url", redis_url, queue.name], cwd=ROOT,
                            env=worker_env(database_url, redis_url), stdout=log.open("w"),
                            stderr=subprocess.STDOUT, timeout=120)
    assert worker.returncode == 0, log.read_text()[-3000:]
    in_worker = Job.fetch(job.id, connection=connection).return_value()
    assert in_worker == in_web_app


def test_rq_cron_loads_every_domains_schedule(app, tmp_path):
    probe = ("import json, portal.cron; from portal.core.registry import cron_jobs; from portal.domains import wiring_report; "
             "print(json.dumps([[j.name for j in cron_jobs], wiring_report()]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**worker_env("sqlite://", "redis://127.0.0.1:6379/15")})
    assert out.returncode == 0, out.stderr[-3000:]
    cron_names, report = json.loads(out.stdout.strip().splitlines()[-1])
    assert cron_names == wiring_report()["cron_jobs"] == report["cron_jobs"]
    assert {"notify_tick", "purge_login_attempts", "objectives_automatic_measurements"} <= set(cron_names)
    assert report == wiring_report()
