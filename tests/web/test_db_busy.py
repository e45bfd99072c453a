"""SQLite readers do not queue behind writers, and a database locked past the busy timeout answers 503
(issue 8, item 4).

These tests need a database file shared by two connections (the in-memory test database is a single
connection): each builds an application of its own on a SQLite file under tmp_path, with a short busy
timeout. The writer is a second connection to the same file (a plain sqlite3 connection, or a thread)
holding a write transaction. The PostgreSQL counterpart, a lock timeout, is classified the same way.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.core.db_setup import is_lock_timeout
from portal.extensions import db
from portal.org.models import User
from tests.helpers import HX, PortalClient, create_user, login, text, translated

BUSY = "The database is busy. Please try again in a moment."
on_sqlite_only = pytest.mark.skipif(
    "postgresql" in __import__("os").environ.get("TEST_DATABASE_URL", ""),
    reason="SQLite locking: these tests build their own application on a SQLite file, not on PostgreSQL",
)
pytestmark = [pytest.mark.committing]


@pytest.fixture
def file_app(tmp_path):
    path = tmp_path / "portal.db"
    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                                        "PORTAL_SQLITE_BUSY_TIMEOUT_MS": 300})
    app.test_client_class = PortalClient
    app.db_path = str(path)
    with app.app_context():
        db.create_all()
        user = create_user("reader")
        db.session.commit()
        app.user_id = user.id
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def signed_in(file_app):
    client = file_app.test_client()
    with file_app.app_context():
        login(client, db.session.get(User, file_app.user_id))
        db.session.remove()
    return client


class Writer:
    """Another connection to the file, holding an uncommitted write (so the write lock) until released."""

    def __init__(self, path: str):
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.execute("UPDATE user SET display_name = display_name || '' WHERE id > 0")

    def release(self, commit: bool = False) -> None:
        self.connection.execute("COMMIT" if commit else "ROLLBACK")
        self.connection.close()


def request_in(app, call):
    with app.app_context():
        try:
            return call()
        finally:
            db.session.remove()


# == readers ===========================================================================================
@on_sqlite_only
@pytest.mark.parametrize("path", ["/notifications", "/", "/admin/org/users"])
def test_a_reader_gets_its_page_during_a_long_write(file_app, signed_in, path):
    writer = Writer(file_app.db_path)
    try:
        started = time.monotonic()
        response = request_in(file_app, lambda: signed_in.get(path))
        waited = time.monotonic() - started
    finally:
        writer.release()
    # With BEGIN IMMEDIATE for every transaction this request waited the busy timeout and got a 500.
    assert response.status_code in (200, 403), text(response)[:500]
    assert "<html" in text(response)
    assert waited < 5  # not a timing test: a reader that queued would have failed, not been slow


@on_sqlite_only
def test_a_reader_during_a_write_held_by_a_thread_for_a_while(file_app, signed_in):
    holding, done = threading.Event(), threading.Event()

    def write_slowly():
        writer = Writer(file_app.db_path)
        holding.set()
        done.wait(30)  # longer than the default busy timeout: a queued reader would fail
        writer.release(commit=True)

    thread = threading.Thread(target=write_slowly)
    thread.start()
    try:
        assert holding.wait(5)
        statuses = [request_in(file_app, lambda: signed_in.get("/notifications")).status_code for _ in range(5)]
    finally:
        done.set()
        thread.join()
    assert statuses == [200] * 5


# == writers ===========================================================================================
@on_sqlite_only
@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_a_write_locked_past_the_timeout_answers_503(file_app, signed_in, hx):
    writer = Writer(file_app.db_path)
    try:
        response = request_in(file_app, lambda: signed_in.post("/notifications/read-all", headers=HX if hx else {}))
    finally:
        writer.release()
    body = text(response)
    assert response.status_code == 503, body[:500]
    assert response.headers["Retry-After"].isdigit()
    assert translated(file_app, BUSY) in body
    assert ("<html" in body) is not hx
    # The application is fine afterwards: the same write goes through once the lock is free.
    again = request_in(file_app, lambda: signed_in.post("/notifications/read-all"))
    assert again.status_code in (302, 303)


@on_sqlite_only
def test_a_write_waits_for_a_short_write_and_succeeds(file_app, signed_in):
    def release_soon(writer):
        time.sleep(0.1)
        writer.release(commit=True)

    writer = Writer(file_app.db_path)
    thread = threading.Thread(target=release_soon, args=(writer,))
    thread.start()
    try:
        response = request_in(file_app, lambda: signed_in.post("/notifications/read-all"))
    finally:
        thread.join()
    assert response.status_code in (302, 303), text(response)[:500]


@on_sqlite_only
def test_read_then_write_after_another_connection_committed(file_app):
    """The old trap: a deferred transaction that read, then writes after someone else committed, fails at once
    with "database is locked" (its WAL snapshot is stale and cannot be upgraded). The write lock is now taken
    by a fresh IMMEDIATE transaction at the first write, so it succeeds."""
    with file_app.app_context():
        user = db.session.get(User, file_app.user_id)  # read: the transaction holds a snapshot
        assert user.display_name
        other = sqlite3.connect(file_app.db_path, isolation_level=None)
        other.execute("UPDATE user SET email = 'moved@example.cn' WHERE id = ?", (user.id,))  # commits
        other.close()
        user.display_name = "改名"
        db.session.commit()
        db.session.remove()
        fresh = db.session.get(User, file_app.user_id)
        assert (fresh.display_name, fresh.email) == ("改名", "moved@example.cn")
        db.session.remove()


@on_sqlite_only
def test_the_old_deferred_upgrade_fails_at_once(file_app):
    """What the design avoids, shown on the driver: upgrading a stale read transaction in place."""
    first = sqlite3.connect(file_app.db_path, isolation_level=None, timeout=2)
    second = sqlite3.connect(file_app.db_path, isolation_level=None)
    try:
        first.execute("BEGIN")
        first.execute("SELECT count(*) FROM user").fetchone()
        second.execute("UPDATE user SET email = email")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            first.execute("UPDATE user SET display_name = display_name")
        assert time.monotonic() - started < 1  # at once, the busy timeout (2 s) notwithstanding
        first.execute("ROLLBACK")
    finally:
        first.close()
        second.close()


@on_sqlite_only
def test_for_update_takes_the_write_lock_before_reading(file_app):
    """A read that decides a write (with_for_update) is made under the write lock on SQLite too."""
    with file_app.app_context():
        db.session.get(User, file_app.user_id)
        db.session.scalar(sa.select(User).where(User.id == file_app.user_id).with_for_update())
        other = sqlite3.connect(file_app.db_path, isolation_level=None, timeout=0.05)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        db.session.rollback()
        db.session.remove()


# == PostgreSQL's lock timeout ===========================================================================
def test_lock_timeouts_are_recognised():
    class PgError(Exception):
        sqlstate = "55P03"

    assert is_lock_timeout(sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked")))
    assert is_lock_timeout(sa.exc.OperationalError("UPDATE", {}, PgError("canceling statement due to lock timeout")))
    assert not is_lock_timeout(sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")))
    assert not is_lock_timeout(ValueError("database is locked"))


# == the same on PostgreSQL, with a lock timeout ========================================================
ON_POSTGRES = __import__("os").environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture
def pg_app(database_url):
    """The test database with lock_timeout set on every connection, as a deployment may set it."""
    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": database_url,
                                        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c lock_timeout=300"}}})
    app.test_client_class = PortalClient
    with app.app_context():
        user = create_user("pg-reader")
        db.session.commit()
        app.user_id = user.id
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL lock timeout (run with TEST_DATABASE_URL=postgresql…)")
@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_postgres_lock_timeout_answers_503_and_readers_still_read(pg_app, database_url, hx):
    client = pg_app.test_client()
    with pg_app.app_context():
        login(client, db.session.get(User, pg_app.user_id))
        db.session.remove()
    locker = sa.create_engine(database_url)
    try:
        with locker.connect() as conn:
            conn.execute(sa.text("LOCK TABLE notification IN EXCLUSIVE MODE"))  # writes wait, reads do not
            page = request_in(pg_app, lambda: client.get("/notifications"))
            busy = request_in(pg_app, lambda: client.post("/notifications/read-all", headers=HX if hx else {}))
            conn.rollback()
    finally:
        locker.dispose()
    assert page.status_code == 200
    body = text(busy)
    assert busy.status_code == 503, body[:500]
    assert busy.headers["Retry-After"].isdigit() and translated(pg_app, BUSY) in body
    assert ("<html" in body) is not hx
