from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db


#: ``chain`` versions. Rows written before the audit key existed (issue 8, item 5) keep their plain SHA-256
#: (version 1); every row since is an HMAC-SHA256 under the key (version 2). A version-1 row after the first
#: version-2 row is a forgery, and the first keyed row's HMAC covers the last legacy hash, so the legacy
#: rows cannot be rewritten either without the key.
CHAIN_SHA256 = 1
CHAIN_HMAC = 2


class AuditEvent(db.Model):
    """Append-only audit trail. Each row carries an HMAC-SHA256 (under a key kept outside the database) of
    its content chained to the previous row; see ``chain``."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    #: Kept even if the user is renamed: the trail says who it was at the time.
    actor_name: Mapped[str] = mapped_column(sa.String(150), default="")
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(64), default="")
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: how ``hash`` is computed: CHAIN_SHA256 (legacy rows) or CHAIN_HMAC
    chain: Mapped[int] = mapped_column(sa.SmallInteger, default=CHAIN_HMAC, server_default="1")

    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)
