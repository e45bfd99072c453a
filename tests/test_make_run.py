"""`make run` from a copy of the repository: it installs, migrates, seeds and serves, on the embedded default."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.livesrv import ROOT, free_port, wait_for

pytestmark = pytest.mark.slow


def _copy_repository(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_make_run_serves_the_chinese_portal_with_embedded_redis(tmp_path):
    repo = tmp_path / "portal"
    repo.mkdir()
    _copy_repository(repo)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "PORTAL_INSTANCE_DIR", "PORTAL_CONFIG", "VIRTUAL_ENV"}}
    env["PORT"] = str(port)
    log = (tmp_path / "make-run.log").open("w")
    process = subprocess.Popen(["make", "run"], cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for(base + "/healthz", timeout=420, process=process)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{(tmp_path / 'make-run.log').read_text()[-3000:]}") from exc
        health = {}
        deadline = time.time() + 60
        while time.time() < deadline:  # the worker and cron register a moment after the web server
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                health = json.load(response)
            if health.get("workers") and health.get("cron_schedulers"):
                break
            time.sleep(1)
        assert health["database"] == "ok" and health["redis"] == "ok", health
        assert health["redis_mode"] == "embedded"
        assert health["workers"] >= 1 and health["cron_schedulers"] >= 1, health
        with urllib.request.urlopen(base + "/login", timeout=5) as response:
            html = response.read().decode()
        assert '<html lang="zh-CN">' in html and "登录" in html
        assert (repo / "instance" / "portal.db").exists() and (repo / "instance" / "redis.rdb.settings").exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    # Ctrl-C stopped web, worker and cron: nothing answers on the port any more.
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/healthz", timeout=2)
    # ... and nothing of it is left running (the embedded redis-server saves and exits a moment after its owner:
    # on a loaded machine that takes a few seconds).
    deadline = time.time() + 20
    while True:
        leftover = subprocess.run(["pgrep", "-af", str(repo)], capture_output=True, text=True).stdout.splitlines()
        if not leftover or time.time() > deadline:
            break
        time.sleep(0.5)
    assert leftover == [], "\n".join(leftover) + "\n" + (tmp_path / "make-run.log").read_text()[-3000:]
