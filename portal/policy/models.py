"""质量方针: versioned quality policy statements and who has acknowledged which version."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

DRAFT = "draft"
APPROVED = "approved"
PUBLISHED = "published"
SUPERSEDED = "superseded"

STATUS_LABELS = {
    DRAFT: _l("Draft"),
    APPROVED: _l("Approved"),
    PUBLISHED: _l("Published"),
    SUPERSEDED: _l("Superseded"),
}
STATUSES = tuple(STATUS_LABELS)


class QualityPolicy(db.Model):
    """One version of the quality policy. Only a draft may change; approval signs its exact text
    (title and body), and publishing supersedes the version published before it."""

    __tablename__ = "quality_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    #: Plain text; paragraphs are separated by blank lines. Never rendered as HTML.
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=DRAFT, index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User", foreign_keys=[created_by_id])
    published_by = relationship("User", foreign_keys=[published_by_id])
    approved_signature = relationship("Signature")

    __table_args__ = (
        # At most one published version at any time, even when two managers publish at once.
        sa.Index(
            "uq_quality_policy_one_published", "status", unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
        sa.CheckConstraint("status IN ('draft', 'approved', 'published', 'superseded')", name="status"),
    )

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_editable(self) -> bool:
        return self.status == DRAFT

    def __repr__(self) -> str:
        return f"<QualityPolicy v{self.version} {self.status}>"


class PolicyAcknowledgement(db.Model):
    """“我已阅读并理解”: a user has read one published version. One row per version and user."""

    __tablename__ = "policy_acknowledgement"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("quality_policy.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    policy: Mapped[QualityPolicy] = relationship()
    user = relationship("User")

    __table_args__ = (sa.UniqueConstraint("policy_id", "user_id"),)

