"""Backend-specific connection set-up.

SQLite transactions (one file shared by the web processes, the worker and cron):

* Every transaction begins DEFERRED: a reader takes no lock and, in WAL mode, never waits for a writer.
* A transaction takes the write lock only when it is about to write: its first INSERT, UPDATE, DELETE or
  DDL statement, its first ``SELECT … FOR UPDATE`` (``with_for_update()``, which SQLite compiles without
  the clause: the caller means "I will write on the strength of this read") or its first SAVEPOINT.
  At that moment the read-only transaction is ended and a ``BEGIN IMMEDIATE`` one started in its place.
  Upgrading the read transaction in place is what SQLite would do on its own, and it fails at once with
  "database is locked" whenever another connection committed since the read (a stale WAL snapshot cannot
  be upgraded) or holds the lock (the busy timeout is not applied to an upgrade). ``BEGIN IMMEDIATE``
  waits up to the busy timeout instead.
* The rows read before the upgrade may be older than the ones written after it: the same guarantee as
  PostgreSQL's READ COMMITTED, which the portal is written for (reads that decide a write use
  ``with_for_update()``, which on SQLite now takes the write lock before the read).
* A write still locked after the busy timeout raises "database is locked"; ``portal.web.errors`` answers
  503 "please retry".
"""
from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from sqlalchemy import event

from portal.extensions import db

log = logging.getLogger(__name__)

#: Milliseconds a SQLite writer waits for the write lock before "database is locked".
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 10000

_TX = "portal_sqlite_tx"  # key in the DBAPI connection's info: "deferred" or "immediate"
_WRITE_WORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _will_write(statement: str, context) -> bool:
    if context is not None:
        if context.isinsert or context.isupdate or context.isdelete:
            return True
        compiled = getattr(context, "compiled", None)
        if compiled is not None and getattr(compiled.statement, "_for_update_arg", None) is not None:
            return True
    return statement.lstrip()[:8].upper().startswith(_WRITE_WORDS)


def _take_write_lock(conn) -> None:
    """End the read-only transaction and begin an IMMEDIATE one (waiting up to the busy timeout)."""
    if conn.info.get(_TX) != "deferred":
        return
    raw = conn.connection.dbapi_connection
    raw.execute("COMMIT")  # nothing was written: ending it only drops the read snapshot
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        # Keep the connection inside a transaction, as SQLAlchemy believes it is, so that the rollback
        # that follows the error is a plain one.
        raw.execute("BEGIN")
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", (), exc) from exc
    conn.info[_TX] = "immediate"


def init_app(app) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    busy_timeout = int(app.config.get("PORTAL_SQLITE_BUSY_TIMEOUT_MS", DEFAULT_SQLITE_BUSY_TIMEOUT_MS))

    @event.listens_for(engine, "connect")
    def sqlite_on_connect(dbapi_connection, connection_record):
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        if engine.url.database not in (None, "", ":memory:"):
            # The web process, the worker and cron share the file: WAL lets readers and a writer overlap.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def sqlite_on_begin(conn):
        conn.info[_TX] = "deferred"
        conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def sqlite_before_execute(conn, cursor, statement, parameters, context, executemany):
        if conn.info.get(_TX) == "deferred" and _will_write(statement, context):
            _take_write_lock(conn)

    @event.listens_for(engine, "savepoint")
    def sqlite_on_savepoint(conn, name):
        # A savepoint is opened to write; the read transaction cannot be swapped once one is open.
        _take_write_lock(conn)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def sqlite_on_end(conn):
        conn.info.pop(_TX, None)


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether a database error means "locked by someone else, try again" (SQLite's busy timeout, PostgreSQL's
    lock_timeout or a deadlock), as opposed to a bug or an outage."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("55P03", "40P01"):  # lock_not_available, deadlock_detected
        return True
    text = str(orig or exc).lower()
    return "database is locked" in text or "database table is locked" in text


def database_ok() -> bool:
    """Whether the database answers (for /healthz); a failed check leaves the session usable."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return True
    except Exception as exc:  # any driver error means "not ready"
        db.session.rollback()
        log.warning("healthz: database check failed: %s", exc)
        return False
