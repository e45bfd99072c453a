"""Shared fixtures, in the shape of Flask's tutorial and indico:

* ``app``: one application per test session, on SQLite (default) or on PostgreSQL when
  ``TEST_DATABASE_URL`` is set. The schema is created from the models once per session
  (migrations are tested on their own in tests/test_migrations.py).
* every test runs inside a transaction that is rolled back afterwards (``commit()`` in the code
  under test releases a SAVEPOINT), unless it is marked ``committing``: such tests commit for real
  (worker processes, concurrent connections) and the tables are emptied after them.
* ``client``: a test client whose ``post`` adds the CSRF token, as a browser form would.
* factories: ``make_department``, ``make_user``; ``login`` logs a client in.

With CI=true a missing service (PostgreSQL, Redis) fails the test instead of skipping it.
"""
from __future__ import annotations

import os
import itertools
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession

from portal import create_app
from portal.extensions import db

IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PASSWORD = "Passw0rd-test"


def service_missing(message: str):
    """Skip locally, fail in CI: a test that needs a service never silently skips there."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a required service must be running)")
    pytest.skip(message)


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
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


class PortalClient(FlaskClient):
    """A test client that sends the CSRF token with every POST, as the portal's pages do."""

    def csrf_token(self) -> str:
        """The token a page of the portal would carry for this client's session."""
        page = super().get("/account/password" if self._logged_in() else "/login")
        match = CSRF_RE.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on the page (status {page.status_code})"
        return match.group(1)

    def _logged_in(self) -> bool:
        with self.session_transaction() as session:
            return "_user_id" in session

    def open(self, *args, **kwargs):
        """Each request gets its own application context (so its own ``g`` and its own DB session),
        as in production, rather than the one the test holds; the test's session is expired after it,
        so objects the test holds show what the request wrote."""
        db.session.commit()  # what the test set up is visible to the request (a SAVEPOINT release when rolled back)
        ctx = self.application.app_context()
        ctx.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.pop()
            db.session.expire_all()

    def post(self, *args, csrf: bool = True, **kwargs):
        if csrf:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().post(*args, **kwargs)


@pytest.fixture
def client(app) -> PortalClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


HX = {"HX-Request": "true"}


# -- factories ------------------------------------------------------------------------------------
_seq = itertools.count(1)


@pytest.fixture
def make_department():
    from portal.org.models import Department

    def make(name: str | None = None, code: str | None = None, parent=None, head=None, active: bool = True):
        n = next(_seq)
        dept = Department(code=code or f"D{n}", name=name or f"测试部门{n}", parent=parent, head=head, active=active)
        db.session.add(dept)
        db.session.flush()
        return dept

    return make


@pytest.fixture
def make_user(make_department):
    from portal.org.accounts import set_password
    from portal.org.models import User
    from portal.core.roles import EMPLOYEE

    def make(username: str | None = None, roles=(EMPLOYEE,), department=None, password: str = DEFAULT_PASSWORD,
             display_name: str | None = None, active: bool = True, must_change_password: bool = False):
        n = next(_seq)
        username = username or f"user{n}"
        user = User(username=username, display_name=display_name or f"测试用户{n}", email=f"{username}@example.cn",
                    department=department if department is not None else make_department(), active=active)
        user.set_roles(set(roles))
        db.session.add(user)
        set_password(user, password, must_change=must_change_password)
        db.session.flush()
        return user

    return make


@pytest.fixture
def login():
    """``login(client, user)``: log the client in through the real login form."""

    def do_login(client: PortalClient, user, password: str = DEFAULT_PASSWORD):
        response = client.post("/login", data={"username": user.username, "password": password})
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return response

    return do_login


@pytest.fixture
def admin(make_user):
    from portal.core.roles import ADMIN

    return make_user("admin_t", roles=(ADMIN,), display_name="测试管理员")


@pytest.fixture
def admin_client(client, admin, login):
    login(client, admin)
    return client


ROOT = Path(__file__).resolve().parent.parent
