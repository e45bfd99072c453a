from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db


class Signature(db.Model):
    """An electronic signature. Append-only: a signature is never edited or deleted."""

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    signer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    #: The signer's name and roles at the time of signing, as printed on the record.
    signer_name: Mapped[str] = mapped_column(sa.String(150))
    signer_roles: Mapped[str] = mapped_column(sa.String(200), default="")
    meaning: Mapped[str] = mapped_column(sa.String(32))  # approve | review | author | obsolete | periodic_review
    #: What the signer wrote with the signature (may be empty).
    comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.Index("ix_signature_object", "object_type", "object_id"),)
