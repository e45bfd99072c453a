from __future__ import annotations

import secrets
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.roles import ADMIN
from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db


class Department(db.Model):
    """A node of the organisation tree."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    head_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", use_alter=True, name="fk_department_head_id_user"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True, index=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Optional["Department"]] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Department"]] = relationship(back_populates="parent")
    head: Mapped[Optional["User"]] = relationship(foreign_keys=[head_id], post_update=True)

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class Position(db.Model):
    """岗位: a job position within a department."""

    __tablename__ = "position"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship()

    __table_args__ = (sa.UniqueConstraint("department_id", "name"),)


class UserRole(db.Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class User(UserMixin, db.Model):
    """An employee account. Never hard-deleted: deactivate instead, because users sign things."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    position_id: Mapped[int | None] = mapped_column(sa.ForeignKey("position.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256), default="")
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: Rotated on password change and deactivation; part of the login session id, so old sessions die.
    session_nonce: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(8))
    active: Mapped[bool] = mapped_column(default=True, index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Optional[Department]] = relationship(foreign_keys=[department_id])
    position: Mapped[Optional[Position]] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    #: The token of the login session this object was loaded for (not stored: the session row keeps its hash).
    session_token = None

    # -- Flask-Login ------------------------------------------------------------------------
    def get_id(self) -> str:
        """``id:nonce:token``: the nonce ends every session at once (password change, deactivation), the
        token names this login's session row (logout ends just that one)."""
        return f"{self.id}:{self.session_nonce}:{self.session_token or ''}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    # -- roles ------------------------------------------------------------------------------
    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}

    def set_roles(self, roles) -> None:
        wanted = set(roles)
        self.role_rows = [r for r in self.role_rows if r.role in wanted] + [
            UserRole(role=r) for r in sorted(wanted - self.roles)
        ]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def __repr__(self) -> str:
        return f"<User {self.username}>"

