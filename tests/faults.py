"""Real services for fault tests: a private redis-server, a loopback SMTP server, an RQ worker process.

A fault test starts its own redis-server on a spare port and kills that one, never the shared one.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

from tests.livesrv import BIN, ROOT, free_port


class PrivateRedis:
    def __init__(self, tmp_dir: Path):
        self.port = free_port()
        self.dir = tmp_dir
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class CollectingHandler:
    """Keeps every message the server accepted. ``block_at``: hold the Nth DATA until ``release`` is set,
    then refuse it (the client is gone by then: the message was never accepted)."""

    def __init__(self, block_at: int | None = None):
        self.messages: list = []
        self.connections = 0
        self.block_at = block_at
        self.data_count = 0
        self.reached = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_count += 1
            number = self.data_count
        if self.block_at is not None and number == self.block_at:
            self.reached.set()
            while not self.release.is_set():
                import asyncio

                await asyncio.sleep(0.05)
            return "451 4.3.0 aborted"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


class SMTPServer:
    def __init__(self, handler: CollectingHandler):
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SMTPServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.handler.release.set()
        self.controller.stop()


def worker_env(database_url: str, redis_url: str, **extra) -> dict:
    env = dict(os.environ)
    env.update(PORTAL_CONFIG="test", TEST_DATABASE_URL=database_url, TEST_REDIS_URL=redis_url,
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_worker(database_url: str, redis_url: str, *, burst: bool, log: Path, **extra) -> subprocess.Popen:
    command = [str(BIN / "rq"), "worker", "--url", redis_url, "default"]
    if burst:
        command.insert(2, "--burst")
    return subprocess.Popen(command, cwd=ROOT, env=worker_env(database_url, redis_url, **extra),
                            stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
