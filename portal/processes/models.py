from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

process_clause = sa.Table(
    "process_clause",
    db.metadata,
    sa.Column("process_id", sa.ForeignKey("process.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("clause_id", sa.ForeignKey("iso_clause.id"), primary_key=True),
)


class IsoClause(db.Model):
    """A clause of ISO 9001:2015 as worded in GB/T 19001-2016 (seeded by a migration)."""

    __tablename__ = "iso_clause"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    sort_key: Mapped[str] = mapped_column(sa.String(32), index=True)

    @property
    def label(self) -> str:
        return f"{self.code} {self.title}"


class Process(db.Model):
    """过程: a business process of the quality management system."""

    __tablename__ = "process"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Optional["Process"]] = relationship(remote_side=[id])
    clauses: Mapped[list[IsoClause]] = relationship(secondary=process_clause, order_by=IsoClause.sort_key)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"
