"""Migrations: upgrade from an empty database, `flask db check` clean, and a full downgrade, on the
database the suite runs on (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""
from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa

from tests.livesrv import BIN, ROOT, fresh_database, portal_env

pytestmark = pytest.mark.slow  # each test runs the flask CLI in subprocesses (seconds)


def _flask(env, *args):
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_upgrade_from_empty_then_check_is_clean(tmp_path, database_url):
    url = fresh_database("migrations", tmp_path)
    env = portal_env(url, tmp_path / "instance")
    upgrade = _flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask(env, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr

    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"user", "department", "position", "user_role", "audit_event", "login_attempt", "pending_import"} <= tables

    downgrade = _flask(env, "db", "downgrade", "base")
    assert downgrade.returncode == 0, downgrade.stderr
    again = _flask(env, "db", "upgrade")
    assert again.returncode == 0, again.stderr


def test_seed_demo_is_idempotent_and_refused_in_production(tmp_path):
    url = fresh_database("seed", tmp_path)
    env = portal_env(url, tmp_path / "instance")
    assert _flask(env, "db", "upgrade").returncode == 0
    first = _flask(env, "portal", "seed-demo")
    assert first.returncode == 0 and "new records" in first.stdout, first.stderr
    second = _flask(env, "portal", "seed-demo")
    assert second.returncode == 0 and "nothing added" in second.stdout, second.stderr

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            users = conn.scalar(sa.text('SELECT count(*) FROM "user"'))
            departments = conn.scalar(sa.text("SELECT count(*) FROM department"))
            roles = set(conn.scalars(sa.text("SELECT DISTINCT role FROM user_role")))
            demo = set(conn.scalars(sa.text('SELECT username FROM "user" WHERE username IN '
                                            "('admin', 'quality', 'head_kf', 'zhangsan')")))
    finally:
        engine.dispose()
    assert users >= 40 and departments >= 6
    assert roles == {"admin", "quality_manager", "dept_head", "employee"}
    assert demo == {"admin", "quality", "head_kf", "zhangsan"}
    verify = _flask(env, "portal", "audit-verify")
    assert verify.returncode == 0 and "intact" in verify.stdout

    production = portal_env(url, tmp_path / "instance", PORTAL_CONFIG="production", SECRET_KEY="x" * 40,
                            PORTAL_AUDIT_KEY="a" * 40)
    refused = _flask(production, "portal", "seed-demo")
    assert refused.returncode != 0 and "refuses to run in production" in refused.stderr
