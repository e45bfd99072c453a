"""Lockout: PORTAL_LOCKOUT_ATTEMPTS (5) failures within PORTAL_LOCKOUT_MINUTES (15) lock the account, and
the IP they came from, with the same generic message as any other failure."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import LoginAttempt
from portal.core.types import utcnow
from portal.extensions import db
from tests.auth.helpers import form_error
from tests.helpers import DEFAULT_PASSWORD, HX

WRONG = "Wrong-passw0rd"


def attempt(client, username, password, ip="127.0.0.1", **kwargs):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip}, **kwargs)


def fail(client, username, times, ips=None):
    """``times`` failed attempts for ``username``, each from its own address unless ``ips`` says otherwise."""
    responses = []
    for i in range(times):
        ip = ips[i] if ips else f"10.9.{i // 250}.{i % 250 + 1}"
        response = attempt(client, username, WRONG, ip)
        assert response.status_code == 422
        responses.append(response)
    return responses


def audit_count(action, object_id=None):
    stmt = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return db.session.scalar(stmt)


def age_attempts(minutes, **where):
    """Move the matching login attempts ``minutes`` into the past (instead of waiting)."""
    stmt = sa.update(LoginAttempt).values(created_at=utcnow() - timedelta(minutes=minutes))
    for column, value in where.items():
        stmt = stmt.where(getattr(LoginAttempt, column) == value)
    db.session.execute(stmt)
    db.session.flush()


def test_lockout_settings(app):
    assert app.config["PORTAL_LOCKOUT_ATTEMPTS"] == 5
    assert app.config["PORTAL_LOCKOUT_MINUTES"] == 15


def test_four_failures_do_not_lock(client, make_user):
    user = make_user()
    fail(client, user.username, 4)
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 303


def test_five_failures_lock_the_account_even_for_the_right_password(client, make_user):
    user = make_user()
    failures = fail(client, user.username, 5)
    generic = form_error(failures[0])
    assert generic
    locked = attempt(client, user.username, DEFAULT_PASSWORD, ip="10.8.0.1")
    assert locked.status_code == 422
    assert form_error(locked) == generic  # the same words as a wrong password: no hint of the lock
    assert not client.logged_in()
    assert audit_count("auth.login_failed", user.username) == 5
    assert audit_count("auth.login_locked", user.username) == 1
    assert audit_count("auth.login") == 0
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login_locked")).one()
    assert event.ip == "10.8.0.1" and event.object_type == "user" and event.actor_id is None


def test_lock_also_refuses_htmx_logins(client, make_user):
    user = make_user()
    fail(client, user.username, 5)
    response = attempt(client, user.username, DEFAULT_PASSWORD, ip="10.8.0.2", headers=HX)
    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    assert not client.logged_in()


def test_failures_are_counted_case_insensitively(client, make_user):
    user = make_user("lockcase")
    for i, name in enumerate(("LockCase", "LOCKCASE", " lockcase", "lockcase ", "lOcKcAsE"), start=1):
        attempt(client, name, WRONG, ip=f"10.7.0.{i}")
    assert attempt(client, "lockcase", DEFAULT_PASSWORD, ip="10.7.1.1").status_code == 422


def test_other_accounts_are_not_affected(client, app, make_user):
    victim = make_user()
    other = make_user()
    fail(client, victim.username, 5)
    response = attempt(client, other.username, DEFAULT_PASSWORD)
    assert response.status_code == 303
    assert client.logged_in()


def test_five_failures_from_one_ip_lock_that_ip(app, make_user):
    users = [make_user() for _ in range(6)]
    attacker = app.test_client()
    for user in users[:5]:  # five different accounts, one address
        assert attempt(attacker, user.username, WRONG, ip="10.0.0.5").status_code == 422
    target = users[5]
    refused = attempt(attacker, target.username, DEFAULT_PASSWORD, ip="10.0.0.5")
    assert refused.status_code == 422
    assert not attacker.logged_in()
    assert audit_count("auth.login_locked", target.username) == 1
    # the same account from another address is fine: its own count is zero
    elsewhere = app.test_client()
    assert attempt(elsewhere, target.username, DEFAULT_PASSWORD, ip="10.0.0.6").status_code == 303
    # and the accounts tried once each are not locked from elsewhere either
    assert attempt(app.test_client(), users[0].username, DEFAULT_PASSWORD, ip="10.0.0.7").status_code == 303


def test_ip_lock_also_applies_to_unknown_usernames(client):
    for i in range(5):
        attempt(client, f"ghost{i}", WRONG, ip="10.0.0.5")
    attempt(client, "ghost-new", WRONG, ip="10.0.0.5")
    assert audit_count("auth.login_locked", "ghost-new") == 1


def test_lock_expires_after_the_window(client, make_user):
    user = make_user()
    fail(client, user.username, 5)
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 422
    age_attempts(16, username=user.username)
    response = attempt(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 303
    assert client.logged_in()


def test_lock_holds_inside_the_window(client, make_user):
    user = make_user()
    fail(client, user.username, 5)
    age_attempts(14, username=user.username)
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 422


def test_only_failures_inside_the_window_count(client, make_user):
    user = make_user()
    fail(client, user.username, 3)
    age_attempts(20, username=user.username)
    fail(client, user.username, 4, ips=[f"10.6.0.{i}" for i in range(1, 5)])  # 4 recent + 3 old: not locked
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 303


def test_ip_lock_expires_after_the_window(app, make_user):
    user = make_user()
    attacker = app.test_client()
    for i in range(5):
        attempt(attacker, f"nobody{i}", WRONG, ip="10.0.0.5")
    assert attempt(attacker, user.username, DEFAULT_PASSWORD, ip="10.0.0.5").status_code == 422
    age_attempts(16, ip="10.0.0.5")
    assert attempt(attacker, user.username, DEFAULT_PASSWORD, ip="10.0.0.5").status_code == 303


def test_success_resets_the_account_count(client, make_user):
    user = make_user()
    fail(client, user.username, 4)
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 303
    client.post("/logout")
    fail(client, user.username, 4, ips=[f"10.5.0.{i}" for i in range(1, 5)])  # 8 failures, 4 since the success
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 303
    client.post("/logout")
    fail(client, user.username, 1, ips=["10.5.1.1"])  # now 5 since the last success
    fail(client, user.username, 4, ips=[f"10.5.2.{i}" for i in range(1, 5)])
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 422


def test_unknown_usernames_are_locked_identically(client, make_user):
    known = make_user()
    known_failures = fail(client, known.username, 5)
    ghost_failures = fail(client, "no-such-user", 5, ips=[f"10.4.0.{i}" for i in range(1, 6)])
    known_locked = attempt(client, known.username, DEFAULT_PASSWORD, ip="10.4.1.1")
    ghost_locked = attempt(client, "no-such-user", DEFAULT_PASSWORD, ip="10.4.1.2")
    responses = known_failures + ghost_failures + [known_locked, ghost_locked]
    assert {r.status_code for r in responses} == {422}
    assert len({form_error(r) for r in responses}) == 1
    assert audit_count("auth.login_failed", "no-such-user") == 5
    assert audit_count("auth.login_locked", "no-such-user") == 1
    assert audit_count("auth.login_locked", known.username) == 1
    assert db.session.query(LoginAttempt).filter_by(username="no-such-user", success=False).count() == 6


def test_attempts_record_username_and_ip(client, make_user):
    user = make_user()
    attempt(client, user.username.upper(), WRONG, ip="10.3.0.1")
    attempt(client, user.username, DEFAULT_PASSWORD, ip="10.3.0.2")
    rows = db.session.scalars(sa.select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(r.username, r.ip, r.success) for r in rows] == [
        (user.username, "10.3.0.1", False),
        (user.username, "10.3.0.2", True),
    ]
    failed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).one()
    assert (failed.object_type, failed.object_id, failed.ip, failed.actor_id) == ("user", user.username, "10.3.0.1", None)
    login = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert (login.actor_id, login.object_id, login.ip) == (user.id, str(user.id), "10.3.0.2")


def test_threshold_comes_from_configuration(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_LOCKOUT_ATTEMPTS", 2)
    user = make_user()
    fail(client, user.username, 2)
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 422


def test_window_comes_from_configuration(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_LOCKOUT_MINUTES", 60)
    user = make_user()
    fail(client, user.username, 5)
    age_attempts(30, username=user.username)  # outside the default 15 minutes, inside 60
    assert attempt(client, user.username, DEFAULT_PASSWORD).status_code == 422


def test_purge_keeps_recent_attempts(client, runner, make_user):
    user = make_user()
    fail(client, user.username, 2)
    age_attempts(60 * 24 * 40, username=user.username)
    fail(client, user.username, 1)
    result = runner.invoke(args=["portal", "purge-login-attempts", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "2 login attempts deleted" in result.output
    assert db.session.query(LoginAttempt).count() == 1


def test_ip_threshold_has_its_own_setting(app, client, make_user, monkeypatch):
    """Behind one NAT address many people share an IP: the per-IP threshold can be raised on its own."""
    monkeypatch.setitem(app.config, "PORTAL_LOCKOUT_IP_ATTEMPTS", 20)
    colleague = make_user()
    for n in range(5):  # five different people mistype their password once each, from the same address
        assert attempt(client, f"someone{n}", "wrong", ip="10.9.9.9").status_code == 422
    assert attempt(client, colleague.username, DEFAULT_PASSWORD, ip="10.9.9.9").status_code == 303

    monkeypatch.setitem(app.config, "PORTAL_LOCKOUT_IP_ATTEMPTS", 5)
    other = make_user()
    assert attempt(app.test_client(), other.username, DEFAULT_PASSWORD, ip="10.9.9.9").status_code == 422
