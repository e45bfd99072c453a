"""Tokens of the device and integration API (``/api/v1``): one per rating terminal, tablet or BI tool.

Only a SHA-256 of the token is stored (a token is 256 random bits, so a fast hash is enough: nothing to
guess); the first characters are kept in clear so that an administrator can tell tokens apart.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

READ, WRITE = "read", "write"
SCOPE_LABELS = {
    READ: lazy_pgettext("api scope", "Read (service points, feedback export)"),
    WRITE: lazy_pgettext("api scope", "Write (submit feedback)"),
}
SCOPES = tuple(SCOPE_LABELS)


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    #: The first characters of the token (``sqp_ab12cd``), shown in the list; not secret.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: Comma-separated, from SCOPES.
    scopes: Mapped[str] = mapped_column(sa.String(40))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    created_by = relationship("User", foreign_keys=[created_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    @property
    def scope_set(self) -> set[str]:
        return {s for s in self.scopes.split(",") if s}

    @property
    def active(self) -> bool:
        return self.revoked_at is None
