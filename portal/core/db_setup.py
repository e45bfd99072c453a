"""Backend-specific connection set-up."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import event

from portal.extensions import db

log = logging.getLogger(__name__)


def init_app(app) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def sqlite_on_connect(dbapi_connection, connection_record):
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            # The web process, the worker and cron share the file: WAL lets readers and a writer overlap.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def sqlite_on_begin(conn):
        # IMMEDIATE takes the write lock up front. With a deferred BEGIN, a transaction that read and then
        # writes after another process committed fails at once with "database is locked" (a stale WAL
        # snapshot cannot be upgraded, and busy_timeout does not apply). Serialising transactions is the
        # price of the single-file database; PostgreSQL is the answer for real concurrency.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def database_ok() -> bool:
    """Whether the database answers (for /healthz); a failed check leaves the session usable."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return True
    except Exception as exc:  # any driver error means "not ready"
        db.session.rollback()
        log.warning("healthz: database check failed: %s", exc)
        return False
