"""Authentication rules: password hashing, lockout, password changes."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit.services import record
from portal.auth.models import LoginAttempt, UserSession
from portal.core.roles import ADMIN
from portal.web.access import ensure_role
from portal.core.errors import NotFound, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.accounts import normalize_username, set_password
from portal.org.models import User

class LoginRefused(ServiceError):
    """Wrong credentials, an inactive account or a lockout: one message for all. The failed attempt has
    been written and is kept (it counts towards the lockout)."""

    keep_changes = True


# Checked against when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH_CACHE: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PORTAL_PASSWORD_METHOD"]
    if method not in _DUMMY_HASH_CACHE:
        _DUMMY_HASH_CACHE[method] = generate_password_hash("not-a-password", method=method)
    return _DUMMY_HASH_CACHE[method]


def _recent_failures(column, value: str, *, reset_by_success: bool) -> int:
    """Failures for this username (or IP) inside the lockout window.

    For an account, a successful login starts the count afresh. For an IP address it does not: otherwise
    anyone with one valid account could interleave their own logins and guess other accounts' passwords
    from one address without limit."""
    window_start = utcnow() - timedelta(minutes=current_app.config["PORTAL_LOCKOUT_MINUTES"])
    last_success = db.session.scalar(
        sa.select(sa.func.max(LoginAttempt.created_at)).where(column == value, LoginAttempt.success.is_(True))
    ) if reset_by_success else None
    since = window_start
    if last_success is not None:
        # SQLite hands back naive values from aggregates; they are UTC like everything stored.
        if last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=timezone.utc)
        since = max(window_start, last_success)
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LoginAttempt).where(
            column == value, LoginAttempt.success.is_(False), LoginAttempt.created_at > since
        )
    )


def is_locked(username: str, ip: str) -> bool:
    cfg = current_app.config
    return (_recent_failures(LoginAttempt.username, username, reset_by_success=True) >= cfg["PORTAL_LOCKOUT_ATTEMPTS"]
            or _recent_failures(LoginAttempt.ip, ip, reset_by_success=False) >= cfg["PORTAL_LOCKOUT_IP_ATTEMPTS"])


def authenticate(username: str, password: str, ip: str) -> User:
    """Return the user for these credentials, or raise ServiceError with one message for every failure.

    The message never reveals whether the username exists or is locked for another reason.
    """
    name = normalize_username(username)
    generic = _("Wrong username or password, or too many failed attempts. Please try again later.")
    locked = is_locked(name, ip)
    # The password is checked even when locked, so a locked account answers as slowly as a wrong password
    # (a fast answer would tell a guesser the account exists and is locked).
    user = db.session.scalar(sa.select(User).where(User.username == name)) if name else None
    ok = check_password_hash(user.password_hash if user and user.password_hash else _dummy_hash(), password or "")
    if locked:
        db.session.add(LoginAttempt(username=name, ip=ip, success=False))
        record("auth.login_locked", object_type="user", object_id=name, ip=ip)
        raise LoginRefused((None, generic))
    if not (user and user.password_hash and ok and user.active):
        db.session.add(LoginAttempt(username=name, ip=ip, success=False))
        record("auth.login_failed", object_type="user", object_id=name, ip=ip)
        raise LoginRefused((None, generic))
    db.session.add(LoginAttempt(username=name, ip=ip, success=True))
    user.last_login_at = utcnow()
    record("auth.login", user, actor=user, ip=ip)
    return user


def record_failed_attempt(username: str, ip: str) -> None:
    """Count a failed password check (a wrong e-signature password too) towards the lockout."""
    db.session.add(LoginAttempt(username=normalize_username(username), ip=ip, success=False))


def validate_new_password(user: User, password: str) -> None:
    minimum = current_app.config["PORTAL_MIN_PASSWORD_LENGTH"]
    if len(password) < minimum:
        raise ServiceError(("new_password", _("The password must have at least %(n)d characters.", n=minimum)))
    if len(password) > 128:
        raise ServiceError(("new_password", _("The password may have at most 128 characters.")))
    if password.lower() in {user.username.lower(), "12345678", "password", "demo1234"}:
        raise ServiceError(("new_password", _("This password is too easy to guess.")))
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise ServiceError(("new_password", _("The password must contain both letters and digits.")))


def change_password(user: User, current_password: str, new_password: str) -> None:
    """The user changes their own password; other sessions of this user are logged out."""
    if not check_password_hash(user.password_hash or _dummy_hash(), current_password or ""):
        raise ServiceError(("current_password", _("The current password is wrong.")))
    if current_password == new_password:
        raise ServiceError(("new_password", _("The new password must differ from the current one.")))
    validate_new_password(user, new_password)
    set_password(user, new_password, must_change=False)
    record("auth.password_changed", user, actor=user)


# -- login sessions -------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def log_in(username: str, password: str, ip: str, user_agent: str = "") -> User:
    """Authenticate and open a login session; the returned user carries its token (``session_token``)."""
    user = authenticate(username, password, ip)
    token = secrets.token_urlsafe(24)
    db.session.add(UserSession(user_id=user.id, token_hash=_token_hash(token), ip=ip[:64],
                               user_agent=(user_agent or "")[:200]))
    db.session.flush()
    user.session_token = token
    return user


def session_user(session_id: str) -> User | None:
    """The active user whose open login session is ``id:nonce:token`` (the Flask-Login user loader)."""
    user_id, _sep, rest = (session_id or "").partition(":")
    nonce, _sep, token = rest.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 10 and nonce and token):
        return None
    lifetime = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    user = db.session.scalar(
        sa.select(User).join(UserSession, UserSession.user_id == User.id).where(
            User.id == int(user_id), User.active.is_(True), User.session_nonce == nonce,
            UserSession.token_hash == _token_hash(token), UserSession.ended_at.is_(None),
            UserSession.created_at > utcnow() - lifetime)
    )
    if user is not None:
        user.session_token = token
    return user


def log_out(user: User) -> None:
    """End this login session only: the same cookie, replayed, finds no session."""
    if user.session_token:
        db.session.execute(sa.update(UserSession).where(
            UserSession.token_hash == _token_hash(user.session_token), UserSession.ended_at.is_(None)
        ).values(ended_at=utcnow(), ended_reason="logout"))
    record("auth.logout", user, actor=user)


def current_token_hash(user: User) -> str:
    return _token_hash(user.session_token) if user.session_token else ""


def get_user_for_admin(actor: User, user_id: int) -> User:
    ensure_role(actor, ADMIN)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def open_sessions(user: User) -> list[UserSession]:
    return list(db.session.scalars(sa.select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)).order_by(UserSession.id.desc())))


def log_out_everywhere(actor: User, user: User) -> int:
    """End every login session of ``user`` (the user themself, or an administrator); returns how many.
    The session nonce changes too, so no session of theirs survives."""
    if actor.id != user.id:
        ensure_role(actor, ADMIN)
    reason = "everywhere" if actor.id == user.id else "admin"
    ended = db.session.execute(sa.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    ).values(ended_at=utcnow(), ended_reason=reason)).rowcount or 0
    user.session_nonce = secrets.token_hex(8)
    db.session.flush()
    record("auth.logout_everywhere", user, actor=actor, extra={"sessions": ended})
    return ended


def purge_old_attempts(days: int = 30) -> int:
    """Login attempts older than ``days`` no longer matter for lockout; the audit trail keeps the history."""
    cutoff = utcnow() - timedelta(days=days)
    result = db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at < cutoff))
    # Sessions ended (or expired) that long ago are history the audit trail keeps.
    db.session.execute(sa.delete(UserSession).where(UserSession.created_at < cutoff))
    return result.rowcount or 0
