"""文件控制: the document register, versions and their files, reviewers, controlled copies and the search index.

A document (文件) has versions. Only a draft version changes; from the moment it is submitted its content
(body and attached file) is frozen, and every signature records the SHA-256 of that content
(:func:`portal.sop.content.content_sha256`). At most one version of a document is effective at a time: a
partial unique index decides when two approvals race.

Version lifecycle::

    draft ──submit──▶ in_review ──all reviewers signed 审核──▶ in_approval ──批准──▶ approved ──effective date──▶ effective ──▶ superseded
      ▲                   │                                          │                                            │
      └──── returned with comments (review or approval) ◀────────────┘                                            └──作废──▶ obsolete
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# -- document types -------------------------------------------------------------------------------
MANUAL, PROCEDURE, INSTRUCTION, FORM, RECORD, EXTERNAL = "manual", "procedure", "instruction", "form", "record", "external"
TYPE_LABELS = {
    MANUAL: _l("Quality manual (质量手册)"),
    PROCEDURE: _l("Procedure (程序文件)"),
    INSTRUCTION: _l("Work instruction (作业指导书)"),
    FORM: _l("Form (表单)"),
    RECORD: _l("Record (记录)"),
    EXTERNAL: _l("External document (外来文件)"),
}
DOC_TYPES = tuple(TYPE_LABELS)
#: The type part of a generated code (``{type}-{dept}-{seq:03d}`` by default).
TYPE_CODES = {MANUAL: "QM", PROCEDURE: "QP", INSTRUCTION: "SOP", FORM: "FM", RECORD: "QR", EXTERNAL: "WL"}

# -- confidentiality ------------------------------------------------------------------------------
PUBLIC, INTERNAL, RESTRICTED = "public", "internal", "restricted"
CONFIDENTIALITY_LABELS = {
    PUBLIC: _l("Public (公开)"),
    INTERNAL: _l("Internal (内部)"),
    RESTRICTED: _l("Restricted (受限): the owning department and the process's departments only"),
}
CONFIDENTIALITIES = tuple(CONFIDENTIALITY_LABELS)

# -- version status -------------------------------------------------------------------------------
DRAFT, IN_REVIEW, IN_APPROVAL, APPROVED, EFFECTIVE, SUPERSEDED, OBSOLETE = (
    "draft", "in_review", "in_approval", "approved", "effective", "superseded", "obsolete")
STATUS_LABELS = {
    DRAFT: lazy_pgettext("document status", "Draft"),
    IN_REVIEW: lazy_pgettext("document status", "In review"),
    IN_APPROVAL: lazy_pgettext("document status", "Awaiting approval"),
    APPROVED: lazy_pgettext("document status", "Approved, not yet effective"),
    EFFECTIVE: lazy_pgettext("document status", "Effective"),
    SUPERSEDED: lazy_pgettext("document status", "Superseded"),
    OBSOLETE: lazy_pgettext("document status", "Obsolete"),
}
STATUSES = tuple(STATUS_LABELS)
#: Statuses in which the content may no longer change.
FROZEN = (IN_REVIEW, IN_APPROVAL, APPROVED, EFFECTIVE, SUPERSEDED, OBSOLETE)
#: Statuses in which a version is being worked on (at most one per document).
OPEN = (DRAFT, IN_REVIEW, IN_APPROVAL, APPROVED)

# -- reviewers ------------------------------------------------------------------------------------
PENDING, REVIEWED, RETURNED = "pending", "reviewed", "returned"
FROM_MATRIX, ADDED = "matrix", "added"


class Document(db.Model):
    """文件: one controlled document in the register, whatever its versions."""

    __tablename__ = "sop_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    doc_type: Mapped[str] = mapped_column(sa.String(16), index=True)
    process_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    confidentiality: Mapped[str] = mapped_column(sa.String(16), default=INTERNAL)
    review_period_months: Mapped[int] = mapped_column(default=12)
    #: Comma-separated, normalised (``"投诉,退款"``).
    tags: Mapped[str] = mapped_column(sa.String(300), default="")
    #: External documents (外来文件): who issued it and which edition; they are registered, not approved here.
    issuer: Mapped[str] = mapped_column(sa.String(200), default="")
    edition: Mapped[str] = mapped_column(sa.String(100), default="")
    #: The effective version, kept by the services (None before the first one takes effect and once obsolete).
    current_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sop_version.id", use_alter=True, name="fk_sop_document_current_version"), index=True)
    #: The latest version of any status (the register shows its status to those who may see it).
    latest_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sop_version.id", use_alter=True, name="fk_sop_document_latest_version"), index=True)
    next_review_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    obsolete_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    obsolete_reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The registering form's one-time key: a double click or a retried request registers one document.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    process = relationship("Process")
    department = relationship("Department")
    created_by = relationship("User", foreign_keys=[created_by_id])
    current_version: Mapped["DocumentVersion | None"] = relationship(foreign_keys=[current_version_id], post_update=True)
    latest_version: Mapped["DocumentVersion | None"] = relationship(foreign_keys=[latest_version_id], post_update=True)

    __table_args__ = (
        sa.CheckConstraint("review_period_months BETWEEN 1 AND 120", name="review_period"),
        sa.CheckConstraint("doc_type IN ('manual', 'procedure', 'instruction', 'form', 'record', 'external')",
                           name="doc_type"),
        sa.CheckConstraint("confidentiality IN ('public', 'internal', 'restricted')", name="confidentiality"),
    )

    @property
    def type_label(self):
        return TYPE_LABELS.get(self.doc_type, self.doc_type)

    @property
    def confidentiality_label(self):
        return CONFIDENTIALITY_LABELS.get(self.confidentiality, self.confidentiality)

    @property
    def is_external(self) -> bool:
        return self.doc_type == EXTERNAL

    @property
    def is_obsolete(self) -> bool:
        return self.obsolete_at is not None

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    def __repr__(self) -> str:
        return f"<Document {self.code}>"


class DocumentFile(db.Model):
    """An attached file (PDF, DOCX or XLSX), checked by content and stored under instance/ with a random name."""

    __tablename__ = "sop_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # pdf | docx | xlsx
    mime_type: Mapped[str] = mapped_column(sa.String(120))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: For a DOCX: its sanitized HTML, shown in the browser.
    html: Mapped[str] = mapped_column(sa.Text, default="")
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentVersion(db.Model):
    """One version (major.minor) of a document."""

    __tablename__ = "sop_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_document.id"), index=True)
    major: Mapped[int] = mapped_column()
    minor: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default=DRAFT, index=True)
    change_summary: Mapped[str] = mapped_column(sa.Text, default="")
    #: Markdown source (may be empty when the content is the attached file).
    body: Mapped[str] = mapped_column(sa.Text, default="")
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sop_file.id"), index=True)
    #: Plain text of the body or of the DOCX, for search and diffs.
    text: Mapped[str] = mapped_column(sa.Text, default="")
    #: The SHA-256 of the body and the file's bytes, fixed at submission (what every signature signs).
    content_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The comments of the last return to draft (by a reviewer or the approver), shown to the author.
    returned_comment: Mapped[str] = mapped_column(sa.Text, default="")
    returned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    approver_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    approved_signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"), index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The retraining decision taken at approval; it travels with ``document_effective``.
    retraining_required: Mapped[bool] = mapped_column(default=True)
    retraining_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    file: Mapped[DocumentFile | None] = relationship()
    author = relationship("User", foreign_keys=[author_id])
    approver = relationship("User", foreign_keys=[approver_id])
    returned_by = relationship("User", foreign_keys=[returned_by_id])
    reviewers: Mapped[list["DocumentReviewer"]] = relationship(
        back_populates="version", order_by="DocumentReviewer.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("document_id", "major", "minor", name="uq_sop_version_number"),
        # Only one version of a document is effective, even when two approvals land at the same moment.
        sa.Index("uq_sop_version_one_effective", "document_id", unique=True,
                 postgresql_where=sa.text("status = 'effective'"), sqlite_where=sa.text("status = 'effective'")),
        # Only one version of a document is being worked on.
        sa.Index("uq_sop_version_one_open", "document_id", unique=True,
                 postgresql_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')"),
                 sqlite_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')")),
        sa.CheckConstraint(
            "status IN ('draft', 'in_review', 'in_approval', 'approved', 'effective', 'superseded', 'obsolete')",
            name="status"),
        sa.CheckConstraint("major >= 0 AND minor >= 0", name="number"),
    )

    @property
    def label(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_editable(self) -> bool:
        return self.status == DRAFT

    def __repr__(self) -> str:
        return f"<DocumentVersion {self.document_id} v{self.label} {self.status}>"


class DocumentReviewer(db.Model):
    """A reviewer of one version: a C department's head from the matrix, or someone the author added."""

    __tablename__ = "sop_reviewer"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_version.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(8), default=FROM_MATRIX)  # matrix | added
    #: The C department the reviewer heads (matrix reviewers).
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    decision: Mapped[str] = mapped_column(sa.String(8), default=PENDING)  # pending | reviewed | returned
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[DocumentVersion] = relationship(back_populates="reviewers")
    user = relationship("User")
    department = relationship("Department")

    __table_args__ = (sa.UniqueConstraint("version_id", "user_id", name="uq_sop_reviewer"),)


class ControlledCopy(db.Model):
    """受控副本: a numbered paper copy of a version, its holder, and its recall (回收)."""

    __tablename__ = "sop_copy"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_version.id"), index=True)
    number: Mapped[int] = mapped_column()
    #: The holder: a person, or a place (a service point or window) named in words.
    holder_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    holder_place: Mapped[str] = mapped_column(sa.String(200), default="")
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when the version is superseded or made obsolete: the copy must come back.
    recall_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recalled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    recall_note: Mapped[str] = mapped_column(sa.String(300), default="")
    #: The issuing form's one-time key: a double click prints one numbered copy, not two.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    version: Mapped[DocumentVersion] = relationship()
    holder_user = relationship("User", foreign_keys=[holder_user_id])
    issued_by = relationship("User", foreign_keys=[issued_by_id])
    recalled_by = relationship("User", foreign_keys=[recalled_by_id])

    __table_args__ = (sa.UniqueConstraint("version_id", "number", name="uq_sop_copy_number"),)

    @property
    def holder_name(self) -> str:
        return self.holder_user.display_name if self.holder_user is not None else self.holder_place

    @property
    def is_out(self) -> bool:
        return self.recalled_at is None


class DocumentSearch(db.Model):
    """The search tokens of a document: its code, title, tags and effective (else latest) text, cut into
    words by rjieba. PostgreSQL searches it through a GIN index on ``to_tsvector('simple', tokens)``;
    SQLite through the FTS5 table ``sop_search_fts`` kept beside it (see portal/sop/search.py)."""

    __tablename__ = "sop_search"

    document_id: Mapped[int] = mapped_column(sa.ForeignKey("sop_document.id"), primary_key=True)
    tokens: Mapped[str] = mapped_column(sa.Text, default="")


# -- signed content never changes -----------------------------------------------------------------
CONTENT_FIELDS = ("document_id", "major", "minor", "body", "file_id", "text", "content_sha256", "change_summary")


class SignedContentChanged(RuntimeError):
    """Something tried to change the content of a version that is no longer a draft."""


def _frozen_status(version: DocumentVersion) -> bool:
    history = sa.inspect(version).attrs.status.history
    before = history.deleted[0] if history.deleted else version.status
    return before in FROZEN


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _refuse_changes_to_signed_content(session, _context, _instances) -> None:
    """The last guard behind the services' checks: a flush that would change the content of a submitted,
    signed or effective version fails, whoever asks."""
    for obj in session.dirty:
        if isinstance(obj, DocumentVersion) and _frozen_status(obj):
            state = sa.inspect(obj)
            changed = [name for name in CONTENT_FIELDS if state.attrs[name].history.has_changes()]
            if changed:
                raise SignedContentChanged(f"version {obj.id} is {obj.status}: its content ({', '.join(changed)}) "
                                           "never changes")
