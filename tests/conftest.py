"""Shared fixtures, in the shape of Flask's tutorial and indico:

* ``app``: one application per test session, on SQLite (default) or on PostgreSQL when
  ``TEST_DATABASE_URL`` is set. The schema is created from the models once per session
  (migrations are tested on their own in tests/test_migrations.py).
* every test runs inside a transaction that is rolled back afterwards (``commit()`` in the code
  under test releases a SAVEPOINT), unless it is marked ``committing``: such tests commit for real
  (worker processes, concurrent connections) and the tables are emptied after them.
* ``client``: a test client whose ``post`` adds the CSRF token, as a browser form would (made once per
  session, not fetched from a page before each POST); ``login`` logs a client in, ``client_for(user)`` gives a
  client of its own, logged in.
* factories: ``make_department``, ``make_user``, ``admin``; ``matrix_org``, a seeded responsibility matrix.
* ``drain_queue``: empties the test Redis's queue after the test.

The functions behind them, and the helpers every domain's tests share, are in tests/helpers.py.

With CI=true a missing service (PostgreSQL, Redis) fails the test instead of skipping it.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession

from portal import create_app
from portal.extensions import db
from tests import helpers
from tests.helpers import DEFAULT_PASSWORD, PortalClient, service_missing


# -- application ----------------------------------------------------------------------------------
def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _ensure_pg_database(url: str) -> None:
    """Create the test database on the PostgreSQL server when it does not exist yet."""
    engine_url = sa.engine.make_url(url)
    admin = sa.create_engine(engine_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": engine_url.database})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{engine_url.database}"'))
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL is not reachable at {engine_url.render_as_string(hide_password=True)}: {exc}")
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        _ensure_pg_database(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis for tests (database 15 of the shared server unless TEST_REDIS_URL says otherwise)."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        service_missing(f"Redis is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ["PORTAL_INSTANCE_DIR"] = str(instance)
    app = create_app(
        "test",
        overrides={
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        },
    )
    app.instance_path = str(instance)
    app.test_client_class = PortalClient
    with app.app_context():
        _drop_everything()
        db.create_all()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _drop_everything() -> None:
    """Start from an empty database, including tables of models that no longer exist (and the migration
    tests' alembic_version)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        return
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


class _TestSession(FlaskSQLAlchemySession):
    """Bound to the test's connection whatever the model: the outer transaction is rolled back."""

    def get_bind(self, *args, **kwargs):
        return self.bind


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        return
    # SQLite ignores PRAGMA foreign_keys inside a transaction: use the raw connection, where each statement
    # commits on its own (the portal sets isolation_level=None on SQLite connections).
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        for table in tables:
            cursor.execute(f'DELETE FROM "{table}"')
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    finally:
        raw.close()


@pytest.fixture(autouse=True)
def _isolated_db(request, app):
    """Roll back everything a test wrote (or empty the tables after a ``committing`` test)."""
    if request.node.get_closest_marker("committing"):
        ctx = app.app_context()
        ctx.push()
        try:
            yield
        finally:
            db.session.remove()
            _empty_all_tables()
            ctx.pop()
        return
    ctx = app.app_context()
    ctx.push()
    connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _TestSession}
    )
    try:
        yield
    finally:
        db.session.remove()
        db.session = original
        transaction.rollback()
        connection.close()
        ctx.pop()


# -- clients --------------------------------------------------------------------------------------
@pytest.fixture
def client(app) -> PortalClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login():
    """``login(client, user)``: log the client in through the real login form."""
    return helpers.login


@pytest.fixture
def client_for(app):
    """``client_for(user)``: a fresh client (its own cookie jar) logged in as ``user``."""

    def make(user, password: str = DEFAULT_PASSWORD) -> PortalClient:
        return helpers.client_for(app, user, password)

    return make


# -- factories ------------------------------------------------------------------------------------
@pytest.fixture
def make_department():
    """``make_department(name=None, code=None, parent=None, head=None, active=True)``"""
    return helpers.create_department


@pytest.fixture
def make_user():
    """``make_user(username=None, roles=(EMPLOYEE,), department=None, password=DEFAULT_PASSWORD, …)``"""
    return helpers.create_user


@pytest.fixture
def admin(make_user):
    from portal.core.roles import ADMIN

    return make_user("admin_t", roles=(ADMIN,), display_name="测试管理员")


@pytest.fixture
def admin_client(client, admin, login):
    login(client, admin)
    return client


@pytest.fixture
def matrix_org(make_user) -> helpers.MatrixOrg:
    """Departments with heads, processes with clauses and a complete responsibility matrix (one A each)."""
    return helpers.seed_matrix(make_user)


# -- faults ---------------------------------------------------------------------------------------
@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own on a spare port, which the test may kill (never the shared one); the
    portal's RQ connection points at it for the test."""
    from portal.extensions import rq
    from tests.faults import PrivateRedis

    server = PrivateRedis(tmp_path).start()
    saved = (rq.url, rq._connection)
    rq.url, rq._connection = server.url, None
    yield server
    rq.url, rq._connection = saved
    server.stop()


# -- queues ---------------------------------------------------------------------------------------
@pytest.fixture
def drain_queue(app):
    """Empties the test Redis's default queue after the test (see ``helpers.drain_queue``)."""
    yield
    helpers.drain_queue()
