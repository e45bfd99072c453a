"""Account credentials stored on the user: usernames and password hashes. Login, lockout and sessions are
the auth domain's; setting a password is the organisation's (creating users, resets), so it lives here."""
from __future__ import annotations

import secrets

from flask import current_app
from werkzeug.security import generate_password_hash

from portal.core.types import utcnow
from portal.extensions import db


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()[:64]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PORTAL_PASSWORD_METHOD"])


def set_password(user, password: str, *, must_change: bool) -> None:
    """Store a new password hash; a new session nonce logs out every session of this user."""
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    user.session_nonce = secrets.token_hex(8)
    db.session.flush()
