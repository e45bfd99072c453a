"""CAPA records and their actions.

Lifecycle::

    open ──(every action done)──▶ checking (the effectiveness check is due 30 days after the last action)
         ──(the check ran: effective / not effective)──▶ closed by the quality manager with an e-signature

A CAPA cannot close with an open action or without an effectiveness result (a check with too few ratings, 样本不足,
is not a result).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# -- where a CAPA comes from ------------------------------------------------------------------------
FROM_TICKET, FROM_INCIDENT, FROM_OBJECTIVE, BY_HAND = "ticket", "incident", "objective", "manual"
SOURCES = (FROM_TICKET, FROM_INCIDENT, FROM_OBJECTIVE, BY_HAND)

# -- 人机料法环测 --------------------------------------------------------------------------------------
CAUSE_LABELS = {
    "man": lazy_pgettext("root cause", "People (人)"),
    "machine": lazy_pgettext("root cause", "Equipment (机)"),
    "material": lazy_pgettext("root cause", "Materials (料)"),
    "method": lazy_pgettext("root cause", "Method (法)"),
    "environment": lazy_pgettext("root cause", "Environment (环)"),
    "measurement": lazy_pgettext("root cause", "Measurement (测)"),
}
CAUSES = tuple(CAUSE_LABELS)

# -- status ---------------------------------------------------------------------------------------
OPEN, CHECKING, CLOSED = "open", "checking", "closed"
STATUS_LABELS = {
    OPEN: lazy_pgettext("capa status", "Actions under way"),
    CHECKING: lazy_pgettext("capa status", "Awaiting the effectiveness check"),
    CLOSED: lazy_pgettext("capa status", "Closed"),
}
EFFECTIVE, NOT_EFFECTIVE, INSUFFICIENT = "effective", "not_effective", "insufficient"
EFFECTIVENESS_LABELS = {
    EFFECTIVE: lazy_pgettext("capa effectiveness", "Effective"),
    NOT_EFFECTIVE: lazy_pgettext("capa effectiveness", "Not effective"),
    INSUFFICIENT: lazy_pgettext("capa effectiveness", "Too few ratings (样本不足)"),
}
ACTION_OPEN, ACTION_DONE = "open", "done"
#: The overdue ladder's steps (``CapaAction.escalation``).
LADDER_OWNER, LADDER_HEAD, LADDER_QM = 1, 2, 3


class Capa(db.Model):
    __tablename__ = "capa"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(12), default=BY_HAND)
    source_id: Mapped[int | None] = mapped_column()
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    #: The point whose CSAT the effectiveness check compares (None: the department's points).
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    problem: Mapped[str] = mapped_column(sa.Text)
    containment: Mapped[str] = mapped_column(sa.Text, default="")
    #: 5 whys, in order (at most five).
    whys: Mapped[list] = mapped_column(sa.JSON, default=list)
    cause_category: Mapped[str | None] = mapped_column(sa.String(12))
    status: Mapped[str] = mapped_column(sa.String(10), default=OPEN)
    #: The day the last action was done; the check compares the 30 days before it with the 30 days after.
    implemented_on: Mapped[date | None] = mapped_column(sa.Date)
    check_due_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    csat_before: Mapped[float | None] = mapped_column()
    csat_after: Mapped[float | None] = mapped_column()
    ratings_before: Mapped[int | None] = mapped_column()
    ratings_after: Mapped[int | None] = mapped_column()
    effectiveness: Mapped[str | None] = mapped_column(sa.String(14))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    close_signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    department = relationship("Department")
    service_point = relationship("ServicePoint")
    actions: Mapped[list["CapaAction"]] = relationship(back_populates="capa", order_by="CapaAction.id",
                                                       cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'checking', 'closed')", name="status"),
        sa.CheckConstraint("source IN ('ticket', 'incident', 'objective', 'manual')", name="source"),
        # One CAPA per source item (a double click, or two people at once, open one).
        sa.Index("uq_capa_source", "source", "source_id", unique=True,
                 postgresql_where=sa.text("source_id IS NOT NULL"), sqlite_where=sa.text("source_id IS NOT NULL")),
    )

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)


class CapaAction(db.Model):
    __tablename__ = "capa_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    capa_id: Mapped[int] = mapped_column(sa.ForeignKey("capa.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    due_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(6), default=ACTION_OPEN)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_note: Mapped[str] = mapped_column(sa.Text, default="")
    #: The overdue ladder's last step sent (0 none, 1 the owner, 2 the department's head, 3 the quality managers),
    #: claimed by a conditional UPDATE: each step once, however often the job runs.
    escalation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    capa: Mapped[Capa] = relationship(back_populates="actions")
    owner = relationship("User")

    __table_args__ = (sa.CheckConstraint("status IN ('open', 'done')", name="status"),
                      sa.Index("ix_capa_action_open_due", "status", "due_on"))
