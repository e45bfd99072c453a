"""人员培训: who must read which controlled document (requirements), the read-and-understood assignments,
quizzes, classroom sessions (培训记录) and qualifications (上岗资格).

Assignment lifecycle::

    open ──read, (quiz passed), 已阅读并理解 signed──▶ done
      │  ──attended a classroom session the trainer signed──▶ done
      │  ──the department head waives it, with a reason──▶ waived
      │  ──the person left the process, was deactivated, the document went obsolete──▶ not_applicable
      └──a newer version requiring retraining took effect──▶ superseded

``current`` marks the one assignment per person and document that the training matrix shows (the newest
version's); older ones stay as the record. An open assignment past its due date is overdue: ``overdue_at``
and ``escalation`` record how far the daily job has taken it up the ladder.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# -- assignments ----------------------------------------------------------------------------------
OPEN, DONE, WAIVED, NOT_APPLICABLE, SUPERSEDED = "open", "done", "waived", "not_applicable", "superseded"
STATUS_LABELS = {
    OPEN: lazy_pgettext("training status", "Pending"),
    DONE: lazy_pgettext("training status", "Done"),
    WAIVED: lazy_pgettext("training status", "Waived"),
    NOT_APPLICABLE: lazy_pgettext("training status", "Not applicable"),
    SUPERSEDED: lazy_pgettext("training status", "Superseded by a newer version"),
}
STATUSES = tuple(STATUS_LABELS)
CLOSED = (DONE, WAIVED, NOT_APPLICABLE, SUPERSEDED)

#: How an assignment came about.
SOURCE_EFFECTIVE, SOURCE_JOINED, SOURCE_RULE, SOURCE_RECONCILE = "effective", "joined", "rule", "reconcile"
#: How it was completed.
BY_SIGNOFF, BY_CLASSROOM = "signoff", "classroom"

#: Escalation ladder steps (``TrainingAssignment.escalation``).
LADDER_NONE, LADDER_EMPLOYEE, LADDER_HEAD, LADDER_QM = 0, 1, 2, 3

# -- requirement rules ----------------------------------------------------------------------------
ADD_POSITION, ADD_USER, EXCLUDE_POSITION = "add_position", "add_user", "exclude_position"
RULE_KINDS = (ADD_POSITION, ADD_USER, EXCLUDE_POSITION)


class TrainingTypeSetting(db.Model):
    """Per document type: whether its documents are trained at all, the due date's distance, and whether the
    sign-off needs the password again. Missing rows take the defaults in ``portal.training.services``."""

    __tablename__ = "training_type_setting"

    doc_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    due_days: Mapped[int] = mapped_column(default=14)
    require_password: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("due_days BETWEEN 1 AND 365", name="due_days"),)


class TrainingRule(db.Model):
    """An explicit change to who must train on a document, on top of the matrix's R departments: a position
    or a person added, or a position excluded."""

    __tablename__ = "training_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_document.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    position_id: Mapped[int | None] = mapped_column(sa.ForeignKey("position.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    position = relationship("Position")
    user = relationship("User", foreign_keys=[user_id])

    __table_args__ = (
        sa.Index("uq_training_rule_position", "document_id", "kind", "position_id", unique=True,
                 postgresql_where=sa.text("position_id IS NOT NULL"), sqlite_where=sa.text("position_id IS NOT NULL")),
        sa.Index("uq_training_rule_user", "document_id", "user_id", unique=True,
                 postgresql_where=sa.text("user_id IS NOT NULL"), sqlite_where=sa.text("user_id IS NOT NULL")),
        sa.CheckConstraint("kind IN ('add_position', 'add_user', 'exclude_position')", name="kind"),
        sa.CheckConstraint("(kind = 'add_user' AND user_id IS NOT NULL AND position_id IS NULL) OR "
                           "(kind <> 'add_user' AND position_id IS NOT NULL AND user_id IS NULL)", name="target"),
    )


class TrainingAssignment(db.Model):
    """One person's duty to read and understand one version of a document."""

    __tablename__ = "training_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_document.id"))
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_version.id"), index=True)
    #: The newest assignment of this person for this document (what the matrix shows).
    current: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=OPEN)
    source: Mapped[str] = mapped_column(sa.String(16), default=SOURCE_EFFECTIVE)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_on: Mapped[date] = mapped_column(sa.Date)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(sa.String(16))  # signoff | classroom
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_session.id"), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: Why it was waived or closed as not applicable.
    closed_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation: Mapped[int] = mapped_column(default=LADDER_NONE)

    user = relationship("User", foreign_keys=[user_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
    document = relationship("Document")
    version = relationship("DocumentVersion")
    session = relationship("TrainingSession")

    __table_args__ = (
        sa.UniqueConstraint("user_id", "version_id", name="uq_training_assignment_version"),
        sa.Index("uq_training_assignment_current", "user_id", "document_id", unique=True,
                 postgresql_where=sa.text("current"), sqlite_where=sa.text("current")),
        sa.Index("ix_training_assignment_document_user", "document_id", "user_id"),
        sa.Index("ix_training_assignment_open_due", "status", "due_on"),
        sa.CheckConstraint("status IN ('open', 'done', 'waived', 'not_applicable', 'superseded')", name="status"),
        sa.CheckConstraint("escalation BETWEEN 0 AND 3", name="escalation"),
    )

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)

    def is_overdue(self, today: date) -> bool:
        return self.status == OPEN and self.due_on < today


# -- quizzes --------------------------------------------------------------------------------------
class Quiz(db.Model):
    """An optional multiple-choice quiz on one version: it must be passed before the sign-off."""

    __tablename__ = "training_quiz"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_version.id"), unique=True)
    pass_mark: Mapped[int] = mapped_column(default=80)  # per cent of the questions answered right
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    questions: Mapped[list["QuizQuestion"]] = relationship(
        back_populates="quiz", order_by="QuizQuestion.position", cascade="all, delete-orphan")

    __table_args__ = (sa.CheckConstraint("pass_mark BETWEEN 1 AND 100", name="pass_mark"),)


class QuizQuestion(db.Model):
    __tablename__ = "training_quiz_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("training_quiz.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(sa.String(500))
    #: The choices, in order (2 to 6 strings).
    options: Mapped[list] = mapped_column(sa.JSON)
    #: The index of the right choice.
    correct: Mapped[int] = mapped_column()

    quiz: Mapped[Quiz] = relationship(back_populates="questions")


class QuizAttempt(db.Model):
    """Every attempt is kept, passed or not."""

    __tablename__ = "training_quiz_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("training_assignment.id"), index=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("training_quiz.id"), index=True)
    answers: Mapped[list] = mapped_column(sa.JSON)
    score: Mapped[int] = mapped_column()  # per cent
    passed: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The quiz form's one-time key: a double click records one attempt.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)


# -- classroom sessions ---------------------------------------------------------------------------
session_document = sa.Table(
    "training_session_document", db.metadata,
    sa.Column("session_id", sa.ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("document_id", sa.ForeignKey("sop_document.id"), primary_key=True),
)


class TrainingSession(db.Model):
    """培训记录: a classroom session. The trainer signs the attendees in bulk, which completes their
    assignments for the linked documents."""

    __tablename__ = "training_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(sa.String(200))
    trainer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The creating form's one-time key: a double click records one session.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    trainer = relationship("User", foreign_keys=[trainer_id])
    department = relationship("Department")
    documents = relationship("Document", secondary=session_document, order_by="Document.code")
    attendees: Mapped[list["SessionAttendee"]] = relationship(
        back_populates="session", order_by="SessionAttendee.id", cascade="all, delete-orphan")

    __table_args__ = (sa.CheckConstraint("ends_at >= starts_at", name="times"),)


class SessionAttendee(db.Model):
    """Someone invited to a session; ``attended_at`` and the trainer's signature once signed in."""

    __tablename__ = "training_session_attendee"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_session.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))

    session: Mapped[TrainingSession] = relationship(back_populates="attendees")
    user = relationship("User")

    __table_args__ = (sa.UniqueConstraint("session_id", "user_id", name="uq_training_session_attendee"),)


# -- qualifications (上岗资格) ---------------------------------------------------------------------
position_qualification = sa.Table(
    "qualification_position", db.metadata,
    sa.Column("position_id", sa.ForeignKey("position.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("type_id", sa.ForeignKey("qualification_type.id", ondelete="CASCADE"), primary_key=True),
)


class QualificationType(db.Model):
    """A kind of certificate (上岗证, 反洗钱培训合格证, 急救证 …) and how long one stays valid."""

    __tablename__ = "qualification_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    #: None: never expires.
    validity_months: Mapped[int | None] = mapped_column()
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    positions = relationship("Position", secondary=position_qualification, order_by="Position.name")

    __table_args__ = (sa.CheckConstraint("validity_months IS NULL OR validity_months BETWEEN 1 AND 240",
                                         name="validity"),)


class Certificate(db.Model):
    """One person's certificate of a qualification type, with an optional scan (PDF, JPEG or PNG)."""

    __tablename__ = "qualification_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    type_id: Mapped[int] = mapped_column(sa.ForeignKey("qualification_type.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(100))
    issuer: Mapped[str] = mapped_column(sa.String(200), default="")
    issued_on: Mapped[date] = mapped_column(sa.Date)
    #: None: does not expire.
    expires_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    scan_name: Mapped[str | None] = mapped_column(sa.String(64))
    scan_display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    scan_mime_type: Mapped[str] = mapped_column(sa.String(120), default="")
    scan_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    #: Set when the certificate is withdrawn (entered by mistake, revoked by the issuer).
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    user = relationship("User", foreign_keys=[user_id])
    type: Mapped[QualificationType] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("type_id", "number", name="uq_qualification_certificate_number"),
        sa.CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates"),
    )

    def is_valid_on(self, day: date) -> bool:
        return self.revoked_at is None and self.issued_on <= day and (self.expires_on is None or self.expires_on >= day)
