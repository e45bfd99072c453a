"""Start the real portal (migrations, demo data, gunicorn) in a subprocess for browser and process tests."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(suffix: str, tmp_dir: Path) -> str:
    """A new, empty database next to the test database: SQLite file, or a recreated PostgreSQL db."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_dir / f'{suffix}.db'}"
    url = sa.engine.make_url(base)
    name = f"{url.database}_{suffix}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def portal_env(database_url: str, instance: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        PORTAL_CONFIG="development",
        DATABASE_URL=database_url,
        PORTAL_INSTANCE_DIR=str(instance),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        SECRET_KEY=secrets.token_hex(24),
        PYTHONUNBUFFERED="1",
        # Every browser test reaches the one server from 127.0.0.1: the per-IP lockout would add up the deliberate
        # wrong passwords of all of them (login, SOP approval, appeal decision, training sign-off) and lock the
        # next test out. The per-account lockout still applies.
        PORTAL_LOCKOUT_IP_ATTEMPTS="1000",
    )
    env.update(extra)
    return env


def wait_for(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


class LiveServer:
    def __init__(self, tmp_dir: Path, suffix: str = "live"):
        self.instance = tmp_dir / "instance"
        self.instance.mkdir(parents=True, exist_ok=True)
        self.database_url = fresh_database(suffix, tmp_dir)
        self.env = portal_env(self.database_url, self.instance)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = tmp_dir / "server.log"

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, check=True, timeout=300)

    def run_seed(self, module: str) -> dict:
        """Run ``python -m module`` in the server's environment (its database, its instance) and return the JSON
        object it prints on its last line (tests/e2e/seed_*.py)."""
        import json

        done = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(self, *, seed: bool = True) -> "LiveServer":
        self.flask("db", "upgrade")
        if seed:
            self.flask("portal", "seed-demo")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        wait_for(self.url + "/healthz", process=self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
