from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db


class LoginAttempt(db.Model):
    """One login attempt, kept for lockout decisions (per account and per IP)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The username as typed (normalised), whether or not such a user exists.
    username: Mapped[str] = mapped_column(sa.String(64))
    ip: Mapped[str] = mapped_column(sa.String(64))
    success: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_login_attempt_username_created", "username", "created_at"),
        sa.Index("ix_login_attempt_ip_created", "ip", "created_at"),
    )


class UserSession(db.Model):
    """One login: a browser's session. Logging out ends it, so a copied session cookie stops working;
    "log out everywhere" ends all of a user's. Only a hash of the token is stored."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: logout | everywhere | admin
    ended_reason: Mapped[str] = mapped_column(sa.String(16), default="")
