from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

ROLES = ("R", "A", "C", "I")


class RaciAssignment(db.Model):
    """One cell of the responsibility matrix (质量职能分配表): a department's role in a process.

    At most one A per process is a database constraint (a partial unique index), so two people assigning
    different A's at the same moment cannot both win.
    """

    __tablename__ = "raci_assignment"

    process_id: Mapped[int] = mapped_column(sa.ForeignKey("process.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(sa.String(1))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    __table_args__ = (
        sa.CheckConstraint("role IN ('R', 'A', 'C', 'I')", name="role_letter"),
        sa.Index("uq_raci_assignment_one_a", "process_id", unique=True,
                 sqlite_where=sa.text("role = 'A'"), postgresql_where=sa.text("role = 'A'")),
    )


class RaciRevision(db.Model):
    """Each committed change of the matrix (a cell edit or an import) bumps the matrix version."""

    __tablename__ = "raci_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    source: Mapped[str] = mapped_column(sa.String(16))  # cell | import
    changes: Mapped[int] = mapped_column(default=1)
