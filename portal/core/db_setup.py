"""Backend-specific connection set-up."""
from __future__ import annotations

from sqlalchemy import event


def init_app(app) -> None:
    from portal.extensions import db

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
