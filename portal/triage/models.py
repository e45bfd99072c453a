"""工单处理: every feedback item becomes a ticket in a department's queue, worked to deadlines in working time.

A ticket is the queue's state of one feedback row (``feedback_id`` is unique: a replayed ``feedback_received``
finds the ticket it made). Status and flags are separate::

    new 新建 ──accept──▶ accepted 已受理 ──start──▶ in_progress 处理中 ──(ask the customer)──▶ awaiting_customer 待客户确认
                                                        │  ◀──────────── the customer answers / staff resume ──┘
                                                        └──resolve──▶ resolved 已解决 ──close──▶ closed 已关闭
    a poor rating of the resolution, or staff, reopen a resolved ticket (back to in_progress)

Flags: spam (hidden from the queue, kept), duplicate (merged into another ticket: both keep their history,
the duplicate is closed), archived.

The 差评 closed loop (ratings 1–2): the ticket is high priority; with the customer's consent to contact a call-back
record (回访) is required before it can be resolved; a rectification (整改) has a deadline in working days; the
handling department may appeal (申诉) a rating as mistaken or malicious, and the quality manager upholds or rejects
the appeal with an e-signature (an upheld appeal leaves the rating out of the KPIs, visible and audited).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# -- status ---------------------------------------------------------------------------------------
NEW, ACCEPTED, IN_PROGRESS, AWAITING_CUSTOMER, RESOLVED, CLOSED = (
    "new", "accepted", "in_progress", "awaiting_customer", "resolved", "closed")
STATUS_LABELS = {
    NEW: lazy_pgettext("ticket status", "New"),
    ACCEPTED: lazy_pgettext("ticket status", "Accepted"),
    IN_PROGRESS: lazy_pgettext("ticket status", "In progress"),
    AWAITING_CUSTOMER: lazy_pgettext("ticket status", "Awaiting the customer"),
    RESOLVED: lazy_pgettext("ticket status", "Resolved"),
    CLOSED: lazy_pgettext("ticket status", "Closed"),
}
STATUSES = tuple(STATUS_LABELS)
#: Statuses in which the ticket is being worked (its SLA clock runs, except while awaiting the customer).
OPEN_STATUSES = (NEW, ACCEPTED, IN_PROGRESS, AWAITING_CUSTOMER)
#: The open statuses as SQL, the predicate of the partial index ``ix_ticket_queue_open``: queries write it the same
#: way (``sa.text``) so that PostgreSQL matches it (bound values would not).
OPEN_PREDICATE = "status IN (" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"

# -- priority -------------------------------------------------------------------------------------
HIGH, NORMAL, LOW = "high", "normal", "low"
PRIORITY_LABELS = {
    HIGH: lazy_pgettext("ticket priority", "High"),
    NORMAL: lazy_pgettext("ticket priority", "Normal"),
    LOW: lazy_pgettext("ticket priority", "Low"),
}
PRIORITIES = tuple(PRIORITY_LABELS)

# -- how a ticket reached its queue ----------------------------------------------------------------
BY_POINT, BY_MATRIX, BY_CATEGORY, BY_ENTRY, BY_REASSIGNMENT = "point", "matrix", "category", "entry", "reassignment"

# -- events on a ticket's history ------------------------------------------------------------------
NOTE, REPLY, STATUS, ASSIGN, REASSIGN, MERGE, FLAG, CALLBACK, RECTIFY, APPEAL = (
    "note", "reply", "status", "assign", "reassign", "merge", "flag", "callback", "rectify", "appeal")

# -- call-backs (回访) ------------------------------------------------------------------------------
REACHED, NOT_REACHED = "reached", "not_reached"
CALLBACK_OUTCOMES = (REACHED, NOT_REACHED)

# -- appeals (申诉复核) -------------------------------------------------------------------------------
MISTAKEN, MALICIOUS = "mistaken", "malicious"
APPEAL_PENDING, APPEAL_UPHELD, APPEAL_REJECTED = "pending", "upheld", "rejected"


class Ticket(db.Model):
    """The queue's state of one feedback item."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(sa.ForeignKey("feedback.id"), unique=True)
    #: The queue it is in (the service point's department, or where routing or a reassignment put it).
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=NEW)
    priority: Mapped[str] = mapped_column(sa.String(8), default=NORMAL)
    routed_by: Mapped[str] = mapped_column(sa.String(16), default=BY_POINT)
    #: A 差评 (rating 1 or 2): the closed loop applies.
    negative: Mapped[bool] = mapped_column(default=False)
    #: A 差评 whose customer consented to contact: a call-back record is required before resolving.
    callback_required: Mapped[bool] = mapped_column(default=False)
    is_spam: Mapped[bool] = mapped_column(default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incident.id"), index=True)
    #: When the customer gave the feedback (the queue's order, and the SLA clock's start).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set while awaiting the customer (the SLA clock stops; see TicketPause).
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The SLA warnings already sent (per cent of the target: 50, 75, 100), so each fires once.
    sla_warned: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: How far up the escalation ladder (0 nobody, 1 assignee, 2 head, 3 quality manager).
    escalation: Mapped[int] = mapped_column(default=0)
    #: The next moment the SLA scan must look at this ticket (its next warning or escalation step); None: nothing
    #: left to send. Kept by portal/triage/sla.py, so the scan reads only the tickets that are due.
    sla_next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 整改: the deadline (working days from the 差评), what was done, when.
    rectification_due_on: Mapped[date | None] = mapped_column(sa.Date)
    rectification_note: Mapped[str] = mapped_column(sa.Text, default="")
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The latest appeal's outcome (upheld: the rating is left out of the KPIs).
    appeal_status: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    feedback = relationship("Feedback")
    department = relationship("Department")
    service_point = relationship("ServicePoint")
    assignee = relationship("User", foreign_keys=[assignee_id])
    duplicate_of: Mapped["Ticket | None"] = relationship(remote_side=[id])

    __table_args__ = (
        # The queue: a department's tickets newest first, paged by keyset on (received_at, id).
        sa.Index("ix_ticket_queue", "department_id", "received_at", "id"),
        # A status's tickets, and the count badges: the default filters (no spam, not archived) read from the index
        # alone (PostgreSQL's INCLUDE), so a count costs index entries, not table rows.
        sa.Index("ix_ticket_queue_status", "department_id", "status", "received_at", "id",
                 postgresql_include=["is_spam", "archived_at"]),
        # The open tickets (the default view) newest first, and their counts, whatever the closed history's size.
        sa.Index("ix_ticket_queue_open", "department_id", "received_at", "id",
                 postgresql_include=["status", "is_spam", "archived_at"],
                 postgresql_where=sa.text(OPEN_PREDICATE), sqlite_where=sa.text(OPEN_PREDICATE)),
        # The SLA scan's own: open, running tickets whose next warning or escalation moment has passed.
        sa.Index("ix_ticket_sla_next_check", "sla_next_check_at",
                 postgresql_where=sa.text("status IN ('new', 'accepted', 'in_progress')"),
                 sqlite_where=sa.text("status IN ('new', 'accepted', 'in_progress')")),
        sa.CheckConstraint("status IN ('new', 'accepted', 'in_progress', 'awaiting_customer', 'resolved', 'closed')",
                           name="status"),
        sa.CheckConstraint("priority IN ('high', 'normal', 'low')", name="priority"),
        sa.CheckConstraint("escalation BETWEEN 0 AND 3", name="escalation"),
        sa.CheckConstraint("duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_own_duplicate"),
    )

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def priority_label(self):
        return PRIORITY_LABELS.get(self.priority, self.priority)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketEvent(db.Model):
    """The ticket's history: internal notes, replies to the customer, status changes, assignments, merges."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The form's one-time key: a double click adds one note or reply.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    actor = relationship("User")


class TicketPause(db.Model):
    """A stretch of waiting on the customer: the SLA clock does not run."""

    __tablename__ = "ticket_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Callback(db.Model):
    """回访: a call to the customer who gave a 差评 — when, who, the outcome."""

    __tablename__ = "ticket_callback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime)
    called_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    outcome: Mapped[str] = mapped_column(sa.String(12))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    called_by = relationship("User")

    __table_args__ = (sa.CheckConstraint("outcome IN ('reached', 'not_reached')", name="outcome"),)


class Appeal(db.Model):
    """申诉复核: the handling department says a rating is mistaken or malicious; the quality manager decides."""

    __tablename__ = "ticket_appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    grounds: Mapped[str] = mapped_column(sa.String(10))  # mistaken | malicious
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default=APPEAL_PENDING)
    filed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))

    filed_by = relationship("User", foreign_keys=[filed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.CheckConstraint("grounds IN ('mistaken', 'malicious')", name="grounds"),
        sa.CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name="status"),
        # One appeal pending per ticket at a time.
        sa.Index("uq_ticket_appeal_pending", "ticket_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    )


class TicketFile(db.Model):
    """Evidence (整改 or 申诉): a PDF, JPEG or PNG checked by content, stored under instance/ with a random name."""

    __tablename__ = "ticket_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    appeal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket_appeal.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(12))  # rectify | appeal
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    mime_type: Mapped[str] = mapped_column(sa.String(120))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaPolicy(db.Model):
    """Targets per priority in business minutes (working hours of working days), and the warning points."""

    __tablename__ = "sla_policy"

    priority: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    first_response_minutes: Mapped[int] = mapped_column()
    resolution_minutes: Mapped[int] = mapped_column()
    #: Per cent of the target at which a warning goes out (100: the breach).
    warn_at: Mapped[list] = mapped_column(sa.JSON, default=lambda: [50, 75, 100])
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("first_response_minutes > 0 AND resolution_minutes >= first_response_minutes",
                                         name="targets"),)


class RoutingRule(db.Model):
    """A category that always goes to one department's queue (收费 → 财务部), whatever the point."""

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(50), unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department = relationship("Department")


class Incident(db.Model):
    """A burst of 差评 at one point within a window: handled as one."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service_point = relationship("ServicePoint")
