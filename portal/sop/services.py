"""Document control rules: the register, versions and their content, review and approval with electronic
signatures, taking effect, obsolescence, periodic review and controlled copies.

Every function takes the acting user, checks what the actor may do (portal.sop.access: the matrix decides
reviewers and approvers), flushes but never commits, and writes an audit event for each state change.
Status changes are conditional UPDATEs (``_transition``): of two people acting on the same version at once,
the second finds it changed and gets a Conflict; a partial unique index keeps one effective version per
document whatever happens.
"""
from __future__ import annotations

import calendar
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import signals
from portal.audit.services import record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.esign.services import sign, sign_many
from portal.extensions import db
from portal.notify.services import notify, notify_many
from portal.org.models import Department, User
from portal.processes.models import Process
from portal.sop import content, search
from portal.sop.access import (approver_of, is_approver, is_controller, is_reviewer, may_author, may_edit_version,
                               may_manage_copies, may_read, may_read_version, may_see_history)
from portal.sop.models import (ADDED, APPROVED, CONFIDENTIALITIES, DOC_TYPES, DRAFT, EFFECTIVE, EXTERNAL,
                               FROM_MATRIX, FROZEN, IN_APPROVAL, IN_REVIEW, OBSOLETE, OPEN, PENDING, RETURNED,
                               REVIEWED, SUPERSEDED, TYPE_CODES, ControlledCopy, Document, DocumentFile,
                               DocumentReviewer, DocumentVersion)
from portal.workcal.services import local_today

log = logging.getLogger(__name__)

SIGNATURE_OBJECT = "sop_version"
REVIEW, APPROVE, OBSOLETE_MEANING, PERIODIC = "review", "approve", "obsolete", "periodic_review"
KIND_REVIEW = "sop.review"
KIND_APPROVAL = "sop.approval"
KIND_RETURNED = "sop.returned"
KIND_EFFECTIVE = "sop.effective"
KIND_PERIODIC = "sop.periodic_review"
KIND_RECALL = "sop.recall"
#: Links in notifications are site-relative paths (jobs have no request to build URLs from).
BASE_PATH = "/quality/documents"
TITLE_MAX, BODY_MAX, SUMMARY_MAX, COMMENT_MAX, TAGS_MAX = 200, 200_000, 2000, 2000, 300
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
DEFAULT_CODE_PATTERN = "{type}-{dept}-{seq:03d}"
PAGE_SIZE = 25
#: How far ahead a periodic review counts as due.
REVIEW_DUE_DAYS = 30


def document_path(document_id: int) -> str:
    return f"{BASE_PATH}/{document_id}"


def version_path(version: DocumentVersion) -> str:
    return f"{BASE_PATH}/{version.document_id}/versions/{version.id}"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def files_dir() -> str:
    return os.path.join(current_app.instance_path, "documents")


def max_file_bytes() -> int:
    return int(current_app.config.get("PORTAL_SOP_MAX_FILE_MB", 20)) * 1024 * 1024


# -- lookups --------------------------------------------------------------------------------------
def get_document(actor, document_id: int) -> Document:
    """A document the actor may know: readable, and effective or one they work on (else 404)."""
    document = db.session.get(Document, document_id)
    if document is None or not may_read(actor, document):
        raise NotFound()
    if document.current_version_id is None and not (
            (document.is_obsolete and may_see_history(actor))
            or (document.latest_version is not None and may_read_version(actor, document.latest_version))):
        raise NotFound()
    return document


def get_version(actor, document_id: int, version_id: int) -> DocumentVersion:
    version = db.session.get(DocumentVersion, version_id)
    if version is None or version.document_id != document_id or not may_read_version(actor, version):
        raise NotFound()
    return version


def visible_versions(actor, document: Document) -> list[DocumentVersion]:
    """The versions of ``document`` the actor may open, newest first."""
    versions = db.session.scalars(
        sa.select(DocumentVersion).where(DocumentVersion.document_id == document.id)
        .options(selectinload(DocumentVersion.reviewers), selectinload(DocumentVersion.author))
        .order_by(DocumentVersion.major.desc(), DocumentVersion.minor.desc())).all()
    return [v for v in versions if may_read_version(actor, v)]


_HEADING = re.compile(r"<(/?)h([1-6])\b")


def _demote_headings(html: str) -> str:
    """A document's own headings sit under the page's title: h1 → h2 … (h6 stays h6)."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 1, 6)}", html)


def version_content(version: DocumentVersion) -> tuple[str, str]:
    """(HTML, plain text) of a version: the Markdown body, then a DOCX file's content."""
    parts = []
    if version.body:
        parts.append(content.render_markdown(version.body))
    if version.file is not None and version.file.html:
        parts.append(version.file.html)
    return _demote_headings("\n".join(parts)), version.text


def file_bytes(version: DocumentVersion) -> bytes | None:
    if version.file is None:
        return None
    return content.read_file(files_dir(), version.file.stored_name)


def compute_sha256(version: DocumentVersion) -> str:
    """What a signature signs: the body and the attached file's bytes, as they are now."""
    return content.content_sha256(version.body, file_bytes(version))


# -- the register ---------------------------------------------------------------------------------
@dataclass
class DocumentFilters:
    q: str = ""
    doc_type: str = ""
    department_id: int | None = None
    process_id: int | None = None
    status: str = ""   # a version status of the latest version, or "obsolete"
    review_due: bool = False
    page: int = 1


@dataclass
class RegisterPage:
    items: list[Document]
    total: int
    page: int
    pages: int


def _visible(actor) -> list:
    """The conditions that restrict the register to the documents the actor may see in the list (none for
    the document controllers)."""
    if is_controller(actor):
        return []
    from portal.raci.services import processes_for

    own = actor.department_id
    own_roles = processes_for(own) if own else {}
    own_processes = [p.id for procs in own_roles.values() for p in procs]
    readable = sa.or_(Document.confidentiality != "restricted", Document.department_id == own,
                      Document.process_id.in_(own_processes) if own_processes else sa.false())
    reviewing = (sa.select(DocumentReviewer.id).join(DocumentVersion, DocumentVersion.id == DocumentReviewer.version_id)
                 .where(DocumentVersion.document_id == Document.id, DocumentReviewer.user_id == actor.id,
                        DocumentVersion.status.in_(OPEN)))
    # Versions in preparation: those who may open them (access.may_read_version) find them in the list too: their
    # editors (the latest version's author, the owning department's head), the reviewers, and the approver (the
    # head of the process's A department; of the owning department, when there is no process: its head).
    headed = sa.select(Department.id).where(Department.head_id == actor.id)
    authored = sa.select(DocumentVersion.id).where(DocumentVersion.author_id == actor.id)
    heads = list(db.session.scalars(headed.where(Department.active.is_(True))))
    approves = [p.id for d in heads for p in (own_roles if d == own else processes_for(d))["A"]]
    # Roles that see history (PORTAL_SOP_HISTORY_ROLES) also find obsolete documents, not others' drafts.
    obsolete = Document.obsolete_at.is_not(None) if may_see_history(actor) else sa.false()
    return [readable, sa.or_(Document.current_version_id.is_not(None), Document.latest_version_id.in_(authored),
                             Document.department_id.in_(headed), reviewing.exists(),
                             Document.process_id.in_(approves) if approves else sa.false(), obsolete)]


def search_register(actor, filters: DocumentFilters, *, today: date | None = None) -> RegisterPage:
    """One page of the register: search over titles and content, filters, pagination (fixed query count:
    the count, the page, and one query per relationship the list shows)."""
    today = today or local_today()
    where = _visible(actor)
    q = (filters.q or "").strip()[:100]
    if q:
        ids = search.matching_ids(q)
        # A query that could begin a code (SOP-KF) also matches codes by prefix; one that cannot (Chinese,
        # spaces, "%", "\\") does not, so "%" never matches every code, and a word search stays a plain
        # ``id IN (matches)`` that the database drives from its full-text index.
        by_code = Document.code.ilike(q.replace("_", "\\_") + "%", escape="\\") if CODE_RE.match(q) else None
        if ids is not None and by_code is not None:
            where.append(sa.or_(Document.id.in_(ids), by_code))
        elif ids is not None or by_code is not None:
            where.append(Document.id.in_(ids) if ids is not None else by_code)
        else:
            where.append(sa.false())  # only punctuation: no word, no code
    if filters.doc_type in DOC_TYPES:
        where.append(Document.doc_type == filters.doc_type)
    if filters.department_id:
        where.append(Document.department_id == filters.department_id)
    if filters.process_id:
        where.append(Document.process_id == filters.process_id)
    latest = None
    if filters.status == OBSOLETE:
        where.append(Document.obsolete_at.is_not(None))
    elif filters.status == EFFECTIVE:
        where.append(Document.current_version_id.is_not(None))
    elif filters.status in OPEN:
        latest = sa.orm.aliased(DocumentVersion)
        where.append(latest.status == filters.status)
    if filters.review_due:
        where.extend([Document.current_version_id.is_not(None),
                      Document.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS)])

    def scoped(stmt):
        """``stmt`` over the documents that match (joined to their latest version when the status asks)."""
        if latest is not None:
            stmt = stmt.join(latest, latest.id == Document.latest_version_id)
        return stmt.where(*where)

    # count(id) over the documents alone: not count(*) over a subquery of every column
    total = db.session.scalar(scoped(sa.select(sa.func.count(Document.id)).select_from(Document))) or 0
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(max(1, filters.page), pages)
    items = db.session.scalars(
        scoped(sa.select(Document))
        .options(selectinload(Document.department), selectinload(Document.process),
                 selectinload(Document.current_version), selectinload(Document.latest_version))
        .order_by(Document.code).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return RegisterPage(list(items), total, page, pages)


def reindex(document: Document) -> None:
    """The search tokens: code, title, tags, issuer, and the effective version's text (else the latest's)."""
    version = document.current_version or document.latest_version
    search.index_document(document.id, document.code, document.title, document.tags.replace(",", " "),
                          document.issuer, version.text if version is not None else "")


# -- registering a document -----------------------------------------------------------------------
@dataclass
class DocumentFields:
    title: str = ""
    doc_type: str = ""
    department_id: int | None = None
    process_id: int | None = None
    confidentiality: str = "internal"
    review_period_months: int = 12
    tags: str = ""
    issuer: str = ""
    edition: str = ""
    code: str = ""


def _clean_tags(text: str) -> str:
    tags: dict[str, None] = {}
    for tag in re.split(r"[,，、;；\s]+", text or ""):
        tag = tag.strip()[:30]
        if tag:
            tags.setdefault(tag, None)
    return ",".join(tags)[:TAGS_MAX]


def _check_fields(actor, fields: DocumentFields) -> tuple[Department, Process | None]:
    errors: list[tuple[str | None, str]] = []
    fields.title = " ".join((fields.title or "").split())
    if not fields.title:
        errors.append(("title", _("Please enter the title.")))
    elif len(fields.title) > TITLE_MAX:
        errors.append(("title", _("The title may have at most %(n)d characters.", n=TITLE_MAX)))
    if fields.doc_type not in DOC_TYPES:
        errors.append(("doc_type", _("Choose the document type.")))
    if fields.confidentiality not in CONFIDENTIALITIES:
        errors.append(("confidentiality", _("Choose the confidentiality level.")))
    if not 1 <= (fields.review_period_months or 0) <= 120:
        errors.append(("review_period_months", _("The review period is between 1 and 120 months.")))
    department = db.session.get(Department, fields.department_id) if fields.department_id else None
    if department is None or not department.active:
        errors.append(("department_id", _("Choose the owning department.")))
    elif not is_controller(actor) and department.id != actor.department_id:
        errors.append(("department_id", _("You can register documents of your own department only.")))
    process = db.session.get(Process, fields.process_id) if fields.process_id else None
    if fields.process_id and (process is None or not process.active):
        errors.append(("process_id", _("Choose an active process.")))
    if fields.doc_type == EXTERNAL:
        fields.issuer = " ".join((fields.issuer or "").split())[:200]
        fields.edition = " ".join((fields.edition or "").split())[:100]
        if not fields.issuer:
            errors.append(("issuer", _("Enter who issued the external document (e.g. 中国人民银行).")))
    else:
        fields.issuer = fields.edition = ""
    fields.tags = _clean_tags(fields.tags)
    if errors:
        raise ServiceError(*errors)
    return department, process


def code_pattern() -> str:
    return current_app.config.get("PORTAL_SOP_CODE_PATTERN") or DEFAULT_CODE_PATTERN


def suggest_code(doc_type: str, department: Department) -> str:
    """The next free code of the pattern (``SOP-KF-001``): the sequence counts per type and department."""
    pattern = code_pattern()
    values = {"type": TYPE_CODES.get(doc_type, "DOC"), "dept": department.code.upper()}
    try:
        prefix = pattern.split("{seq", 1)[0].format(**values)
        pattern.format(seq=1, **values)
    except (KeyError, ValueError, IndexError):
        log.error("PORTAL_SOP_CODE_PATTERN %r is not a valid pattern; using %r", pattern, DEFAULT_CODE_PATTERN)
        pattern = DEFAULT_CODE_PATTERN
        prefix = pattern.split("{seq", 1)[0].format(**values)
    taken = set(db.session.scalars(sa.select(Document.code).where(Document.code.like(prefix + "%"))))
    seq = len(taken) + 1
    while (code := pattern.format(seq=seq, **values)) in taken:
        seq += 1
    return code


def _check_code(code: str, *, document_id: int | None = None) -> str:
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise ServiceError(("code", _("A code has letters, digits, “-”, “_”, “.” or “/”, at most 40 characters.")))
    clash = db.session.scalar(sa.select(Document.id).where(Document.code == code))
    if clash is not None and clash != document_id:
        raise ServiceError(("code", _("The code %(code)s is already used by another document.", code=code)))
    return code


def may_register(actor) -> bool:
    return is_controller(actor) or (actor is not None and getattr(actor, "is_authenticated", False)
                                    and actor.active and actor.department_id is not None)


def create_document(actor, fields: DocumentFields, *, request_key: str = "") -> Document:
    """Register a document and start its first version (1.0) as a draft. A repeated request with the same
    ``request_key`` (a double click, a retry) returns the document the first one created."""
    if not may_register(actor):
        raise PermissionDenied()
    key = (request_key or "")[:64] or None
    if key:
        existing = db.session.scalar(sa.select(Document).where(Document.request_key == key))
        if existing is not None:
            return existing
    department, process = _check_fields(actor, fields)
    code = _check_code(fields.code) if (fields.code or "").strip() else suggest_code(fields.doc_type, department)
    now = utcnow()
    document = Document(code=code, title=fields.title, doc_type=fields.doc_type, department_id=department.id,
                        process_id=process.id if process else None, confidentiality=fields.confidentiality,
                        review_period_months=fields.review_period_months, tags=fields.tags, issuer=fields.issuer,
                        edition=fields.edition, created_by_id=actor.id, created_at=now, updated_at=now,
                        request_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(document)
            db.session.flush()
    except IntegrityError:
        if key and (existing := db.session.scalar(sa.select(Document).where(Document.request_key == key))):
            return existing
        raise Conflict(("code", _("Someone registered the code %(code)s at the same moment. Try again.", code=code)))
    version = DocumentVersion(document_id=document.id, major=1, minor=0, status=DRAFT, author_id=actor.id,
                              change_summary=_("First issue") if fields.doc_type != EXTERNAL else "",
                              created_at=now, updated_at=now)
    db.session.add(version)
    db.session.flush()
    document.latest_version_id = version.id
    db.session.flush()
    record("sop.document_create", document, actor=actor,
           after={"code": code, "title": document.title, "doc_type": document.doc_type,
                  "department_id": department.id, "process_id": document.process_id,
                  "confidentiality": document.confidentiality})
    reindex(document)
    return document


def update_document(actor, document: Document, fields: DocumentFields) -> Document:
    """Change the register entry (not the content: that is a version's)."""
    if not may_author(actor, document) or document.is_obsolete:
        raise PermissionDenied()
    fields.department_id = fields.department_id or document.department_id
    department, process = _check_fields(actor, fields)
    names = ("title", "department_id", "process_id", "confidentiality", "review_period_months", "tags", "issuer",
             "edition")
    before = {n: getattr(document, n) for n in names}
    if fields.doc_type != document.doc_type:
        raise ServiceError(("doc_type", _("The type of a registered document does not change; register a new one.")))
    if fields.code and fields.code.strip().upper() != document.code:
        if not is_controller(actor):
            raise ServiceError(("code", _("Only the document controller changes a code.")))
        before["code"] = document.code
        document.code = _check_code(fields.code, document_id=document.id)
    document.title, document.department_id = fields.title, department.id
    document.process_id = process.id if process else None
    document.confidentiality, document.review_period_months = fields.confidentiality, fields.review_period_months
    document.tags, document.issuer, document.edition = fields.tags, fields.issuer, fields.edition
    after = {n: getattr(document, n) for n in before}
    if after != before:
        document.updated_at = utcnow()
        db.session.flush()
        record("sop.document_update", document, actor=actor, before=before, after=after)
        reindex(document)
    return document


# -- versions and their content -------------------------------------------------------------------
def open_version(document: Document) -> DocumentVersion | None:
    return db.session.scalar(sa.select(DocumentVersion).where(
        DocumentVersion.document_id == document.id, DocumentVersion.status.in_(OPEN)))


def new_version(actor, document: Document, *, major: bool = False) -> DocumentVersion:
    """Start the next version as a draft from the effective one (minor: x.y+1; major: x+1.0)."""
    if not may_author(actor, document):
        raise PermissionDenied()
    if document.is_obsolete:
        raise ServiceError((None, _("%(code)s is obsolete: register a new document instead.", code=document.code)))
    pending = open_version(document)
    if pending is not None:
        raise ServiceError((None, _("Version %(version)s is still being prepared: finish it first.",
                                    version=pending.label)))
    base = document.current_version or document.latest_version
    if base is None:
        number = (1, 0)
    else:
        number = (base.major + 1, 0) if major else (base.major, base.minor + 1)
    now = utcnow()
    version = DocumentVersion(document_id=document.id, major=number[0], minor=number[1], status=DRAFT,
                              author_id=actor.id, body=base.body if base else "",
                              file_id=base.file_id if base else None, text=base.text if base else "",
                              created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(version)
            db.session.flush()
    except IntegrityError:
        raise Conflict((None, _("Someone started a new version of %(code)s at the same moment. Reload the page.",
                                code=document.code)))
    document.latest_version_id = version.id
    db.session.flush()
    record("sop.version_create", version, actor=actor,
           after={"version": version.label, "status": DRAFT},
           extra={"document_id": document.id, "based_on": base.label if base else None})
    return version


def _ensure_draft(actor, version: DocumentVersion) -> None:
    if not may_edit_version(actor, version):
        raise PermissionDenied()
    if version.status != DRAFT:
        raise ServiceError((None, _("Version %(version)s is %(status)s: signed content never changes. Start a new "
                                    "version to change it.", version=version.label, status=version.status_label)))


def _store_upload(actor, filename: str, data: bytes) -> DocumentFile:
    info = content.validate_upload(filename, data, max_file_bytes())
    html = ""
    if info.kind == "docx":
        html = content.docx_to_html(data)
    stored = content.store_file(data, files_dir())
    file = DocumentFile(kind=info.kind, mime_type=info.mime_type, display_name=info.display_name,
                        stored_name=stored, size=info.size, sha256=info.sha256, html=html, uploaded_by_id=actor.id)
    db.session.add(file)
    db.session.flush()
    return file


def _text_of(body: str, file: DocumentFile | None, data: bytes | None) -> str:
    parts = [content.markdown_text(body)] if body else []
    if file is not None and file.kind == "docx":
        data = data if data is not None else content.read_file(files_dir(), file.stored_name)
        parts.append(content.docx_text(data))
    return "\n".join(p for p in parts if p)


def update_draft(actor, version: DocumentVersion, *, body: str, change_summary: str,
                 upload: tuple[str, bytes] | None = None, remove_file: bool = False) -> DocumentVersion:
    """Save a draft's content: the Markdown body, the change summary, and optionally a new or no file."""
    _ensure_draft(actor, version)
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    change_summary = (change_summary or "").strip()
    errors = []
    if len(body) > BODY_MAX:
        errors.append(("body", _("The text may have at most %(n)d characters.", n=BODY_MAX)))
    if len(change_summary) > SUMMARY_MAX:
        errors.append(("change_summary", _("The change summary may have at most %(n)d characters.", n=SUMMARY_MAX)))
    if errors:
        raise ServiceError(*errors)
    before = {"body_sha256": content.content_sha256(version.body, None), "change_summary": version.change_summary,
              "file_id": version.file_id}
    data = None
    if upload is not None and upload[1]:
        file = _store_upload(actor, upload[0], upload[1])
        version.file_id, data = file.id, upload[1]
        db.session.flush()
        db.session.refresh(version, ["file"])
    elif remove_file:
        version.file_id = None
        db.session.flush()
        db.session.refresh(version, ["file"])
    version.body, version.change_summary = body, change_summary
    version.text = _text_of(body, version.file, data)
    after = {"body_sha256": content.content_sha256(body, None), "change_summary": change_summary,
             "file_id": version.file_id}
    if after != before:
        version.updated_at = utcnow()
        db.session.flush()
        record("sop.version_update", version, actor=actor, before=before, after=after,
               extra={"document_id": version.document_id, "version": version.label})
        if version.document.current_version_id is None:
            reindex(version.document)  # nothing effective yet: the draft's text is what is searched
    return version


def add_reviewer(actor, version: DocumentVersion, user_id: int) -> DocumentReviewer:
    """The author adds a reviewer beyond the matrix's C heads."""
    _ensure_draft(actor, version)
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active:
        raise ServiceError(("user_id", _("Choose an active user.")))
    if user.id == version.author_id:
        raise ServiceError(("user_id", _("The author does not review their own version.")))
    existing = next((r for r in version.reviewers if r.user_id == user.id), None)
    if existing is not None:
        return existing
    reviewer = DocumentReviewer(version_id=version.id, user_id=user.id, source=ADDED)
    db.session.add(reviewer)
    db.session.flush()
    record("sop.reviewer_add", version, actor=actor, extra={"user_id": user.id, "version": version.label})
    return reviewer


def remove_reviewer(actor, version: DocumentVersion, user_id: int) -> None:
    _ensure_draft(actor, version)
    reviewer = next((r for r in version.reviewers if r.user_id == user_id and r.source == ADDED), None)
    if reviewer is None:
        raise NotFound()
    version.reviewers.remove(reviewer)
    db.session.flush()
    record("sop.reviewer_remove", version, actor=actor, extra={"user_id": user_id, "version": version.label})


def matrix_reviewers(document: Document, exclude: set[int]) -> list[tuple[User, Department]]:
    """The heads of the departments that are C for the document's process (the matrix decides)."""
    from portal.raci.services import departments_with

    if document.process_id is None:
        return []
    out, seen = [], set(exclude)
    for dept in departments_with(document.process_id, "C"):
        head = dept.head if dept.active else None
        if head is not None and head.active and head.id not in seen:
            seen.add(head.id)
            out.append((head, dept))
    return out


def _transition(version: DocumentVersion, from_status: str | tuple[str, ...], **values) -> None:
    """Move ``version`` on only if it is still in ``from_status`` (else Conflict: someone acted first)."""
    statuses = (from_status,) if isinstance(from_status, str) else from_status
    result = db.session.execute(
        sa.update(DocumentVersion).where(DocumentVersion.id == version.id, DocumentVersion.status.in_(statuses))
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    db.session.expire(version)
    if result.rowcount != 1:
        raise Conflict((None, _("Someone else changed version %(version)s first. Reload the page.",
                                version=f"{version.major}.{version.minor}")))


def submit(actor, version: DocumentVersion) -> DocumentVersion:
    """Draft → in review: the content is frozen and fingerprinted; the reviewers are the heads of the C
    departments plus those the author added (none: straight to approval)."""
    _ensure_draft(actor, version)
    document = version.document
    errors = []
    if document.is_external:
        raise ServiceError((None, _("External documents are registered, not approved here: use “register this "
                                    "edition”.")))
    if not version.change_summary.strip():
        errors.append(("change_summary", _("Every version needs a change summary.")))
    if not version.body.strip() and version.file_id is None:
        errors.append(("body", _("Write the text or attach the file first.")))
    approver = approver_of(document)
    if approver is None:
        errors.append((None, _("Nobody can approve it: the responsibility matrix names no accountable (A) department "
                               "with an active head for this process. Ask the quality manager to complete the matrix.")))
    elif approver.id == version.author_id:
        errors.append((None, _("You are the head of the approving department, and an author cannot approve their own "
                               "version: ask a colleague of the owning department to submit it as author.")))
    if errors:
        raise ServiceError(*errors)
    digest = compute_sha256(version)
    wanted = matrix_reviewers(document, exclude={version.author_id, approver.id})
    wanted_ids = {u.id for u, _d in wanted}
    for reviewer in list(version.reviewers):
        if reviewer.source == FROM_MATRIX and reviewer.user_id not in wanted_ids:
            version.reviewers.remove(reviewer)
        else:
            reviewer.decision, reviewer.comment, reviewer.signature_id, reviewer.decided_at = PENDING, "", None, None
    have = {r.user_id for r in version.reviewers}
    for user, dept in wanted:
        if user.id not in have:
            version.reviewers.append(DocumentReviewer(version_id=version.id, user_id=user.id, source=FROM_MATRIX,
                                                      department_id=dept.id))
    db.session.flush()
    reviewers = [r for r in version.reviewers]
    target = IN_REVIEW if reviewers else IN_APPROVAL
    _transition(version, DRAFT, status=target, content_sha256=digest, submitted_at=utcnow())
    record("sop.submit", version, actor=actor, before={"status": DRAFT}, after={"status": target},
           extra={"document_id": document.id, "version": version.label, "content_sha256": digest,
                  "reviewers": [r.user_id for r in reviewers]})
    title = f"{document.code} {document.title} v{version.label}"
    if reviewers:
        notify_many([r.user for r in reviewers], KIND_REVIEW, _("Please review %(title)s", title=title),
                    version.change_summary, version_path(version), department_id=document.department_id,
                    dedupe_key=f"sop.review:{version.id}:{digest}")
    else:
        _ask_approval(version, approver)
    return version


def _ask_approval(version: DocumentVersion, approver: User | None) -> None:
    if approver is None:
        return
    document = version.document
    notify(approver, KIND_APPROVAL, _("Please approve %(title)s", title=f"{document.code} {document.title} v{version.label}"),
           version.change_summary, version_path(version), department_id=document.department_id,
           dedupe_key=f"sop.approval:{version.id}:{version.content_sha256}")


def _check_unchanged(version: DocumentVersion, seen_sha256: str | None) -> str:
    """The fingerprint of the content as it is on disk now, which must be the one fixed at submission (and
    the one the signer had on screen)."""
    digest = compute_sha256(version)
    if digest != version.content_sha256:
        raise ServiceError((None, _("The stored content of version %(version)s no longer matches its fingerprint; "
                                    "nothing was signed. Tell the document controller.", version=version.label)))
    if seen_sha256 and seen_sha256 != digest:
        raise Conflict((None, _("The content changed after you opened it. Read it again before signing.")))
    return digest


def _clean_comment(comment: str, *, required: bool = False, field: str = "comment") -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise ServiceError((field, _("Please write your comments.")))
    if len(comment) > COMMENT_MAX:
        raise ServiceError((field, _("Comments may have at most %(n)d characters.", n=COMMENT_MAX)))
    return comment


def review(actor, version: DocumentVersion, password: str, *, comment: str = "", seen_sha256: str | None = None):
    """A reviewer signs 审核. When the last reviewer has signed, the version goes to the approver."""
    if version.status != IN_REVIEW or not is_reviewer(actor, version, pending_only=True):
        raise PermissionDenied()
    comment = _clean_comment(comment)
    digest = _check_unchanged(version, seen_sha256)
    signature = sign(actor, password, REVIEW, object_type=SIGNATURE_OBJECT, object_id=version.id,
                     content_sha256=digest, comment=comment)
    row = next(r for r in version.reviewers if r.user_id == actor.id)
    result = db.session.execute(sa.update(DocumentReviewer).where(
        DocumentReviewer.id == row.id, DocumentReviewer.decision == PENDING).values(
        decision=REVIEWED, comment=comment, signature_id=signature.id, decided_at=utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict((None, _("You have already reviewed this version.")))
    db.session.expire(row)
    record("sop.review", version, actor=actor, extra={"document_id": version.document_id, "version": version.label,
                                                      "signature_id": signature.id, "content_sha256": digest})
    pending = db.session.scalar(sa.select(sa.func.count()).select_from(DocumentReviewer).where(
        DocumentReviewer.version_id == version.id, DocumentReviewer.decision != REVIEWED))
    if not pending:
        _transition(version, IN_REVIEW, status=IN_APPROVAL)
        record("sop.review_complete", version, before={"status": IN_REVIEW}, after={"status": IN_APPROVAL},
               extra={"document_id": version.document_id, "version": version.label})
        _ask_approval(version, approver_of(version.document))
    return signature


def return_to_draft(actor, version: DocumentVersion, comment: str) -> DocumentVersion:
    """A reviewer (in review) or the approver (awaiting approval) sends the version back with comments."""
    as_reviewer = version.status == IN_REVIEW and is_reviewer(actor, version, pending_only=True)
    as_approver = version.status == IN_APPROVAL and is_approver(actor, version.document)
    if not (as_reviewer or as_approver):
        raise PermissionDenied()
    comment = _clean_comment(comment, required=True)
    before = version.status
    if as_reviewer:
        row = next(r for r in version.reviewers if r.user_id == actor.id)
        row.decision, row.comment, row.decided_at = RETURNED, comment, utcnow()
        db.session.flush()
    _transition(version, before, status=DRAFT, returned_comment=comment, returned_by_id=actor.id)
    record("sop.return", version, actor=actor, before={"status": before}, after={"status": DRAFT},
           extra={"document_id": version.document_id, "version": version.label, "comment": comment})
    document = version.document
    notify(version.author, KIND_RETURNED,
           _("%(title)s was returned with comments", title=f"{document.code} {document.title} v{version.label}"),
           comment, version_path(version), department_id=document.department_id)
    return version


@dataclass
class ApprovalChoice:
    effective_on: date | None = None
    retraining_required: bool = True
    retraining_reason: str = ""
    comment: str = ""


def _check_choice(choice: ApprovalChoice, today: date) -> ApprovalChoice:
    errors = []
    if choice.effective_on is None:
        choice.effective_on = today
    if choice.effective_on < today:
        errors.append(("effective_on", _("The effective date cannot be in the past.")))
    elif choice.effective_on > today + timedelta(days=366):
        errors.append(("effective_on", _("The effective date is at most a year ahead.")))
    choice.retraining_reason = " ".join((choice.retraining_reason or "").split())[:500]
    if not choice.retraining_required and not choice.retraining_reason:
        errors.append(("retraining_reason", _("Say why no retraining is needed (e.g. 错别字修改).")))
    if choice.retraining_required:
        choice.retraining_reason = ""
    try:
        choice.comment = _clean_comment(choice.comment)
    except ServiceError as exc:
        errors.extend(exc.errors)
    if errors:
        raise ServiceError(*errors)
    return choice


def _ensure_approver(actor, version: DocumentVersion) -> None:
    if version.status != IN_APPROVAL or not is_approver(actor, version.document):
        raise PermissionDenied()
    if actor.id == version.author_id:
        raise PermissionDenied()  # four eyes: an author never approves their own version


def _approved(actor, version: DocumentVersion, signature, choice: ApprovalChoice, today: date) -> None:
    _transition(version, IN_APPROVAL, status=APPROVED, approver_id=actor.id, approved_signature_id=signature.id,
                approved_at=utcnow(), effective_on=choice.effective_on,
                retraining_required=choice.retraining_required, retraining_reason=choice.retraining_reason)
    record("sop.approve", version, actor=actor, before={"status": IN_APPROVAL}, after={"status": APPROVED},
           extra={"document_id": version.document_id, "version": version.label, "signature_id": signature.id,
                  "content_sha256": signature.content_sha256, "effective_on": choice.effective_on.isoformat(),
                  "retraining_required": choice.retraining_required,
                  "retraining_reason": choice.retraining_reason})
    if choice.effective_on <= today:
        make_effective(version, actor=actor, today=today)


def approve(actor, version: DocumentVersion, password: str, choice: ApprovalChoice, *,
            seen_sha256: str | None = None, today: date | None = None):
    """The A department's head signs 批准; the version takes effect at once when its date is today."""
    today = today or local_today()
    _ensure_approver(actor, version)
    choice = _check_choice(choice, today)
    digest = _check_unchanged(version, seen_sha256)
    signature = sign(actor, password, APPROVE, object_type=SIGNATURE_OBJECT, object_id=version.id,
                     content_sha256=digest, comment=choice.comment)
    _approved(actor, version, signature, choice, today)
    return signature


def bulk_approve(actor, version_ids: list[int], password: str, choice: ApprovalChoice, *,
                 today: date | None = None) -> list:
    """Approve up to 50 versions with one password entry: one signature row per version."""
    from portal.esign.services import MAX_BATCH

    today = today or local_today()
    ids = list(dict.fromkeys(version_ids))
    if not ids:
        raise ServiceError(("versions", _("Choose the versions to approve.")))
    if len(ids) > MAX_BATCH:
        raise ServiceError(("versions", _("At most %(n)d versions can be approved at once.", n=MAX_BATCH)))
    versions = [db.session.get(DocumentVersion, i) for i in ids]
    if any(v is None for v in versions):
        raise NotFound()
    for version in versions:
        _ensure_approver(actor, version)
    choice = _check_choice(choice, today)
    items = [(v.id, _check_unchanged(v, None)) for v in versions]
    signatures = sign_many(actor, password, APPROVE, object_type=SIGNATURE_OBJECT, items=items, comment=choice.comment)
    for version, signature in zip(versions, signatures):
        _approved(actor, version, signature, ApprovalChoice(choice.effective_on, choice.retraining_required,
                                                            choice.retraining_reason, choice.comment), today)
    return signatures


def pending_approvals(actor) -> list[DocumentVersion]:
    """The versions awaiting the actor's approval (the bulk approval list)."""
    awaiting = _awaiting_approval()
    approvers = approver_ids(awaiting)
    return [v for v in awaiting if approvers[v.id] == actor.id and v.author_id != actor.id]


def _awaiting_approval() -> list[DocumentVersion]:
    return list(db.session.scalars(
        sa.select(DocumentVersion).where(DocumentVersion.status == IN_APPROVAL)
        .options(selectinload(DocumentVersion.document).selectinload(Document.department))
        .order_by(DocumentVersion.submitted_at)))


def approver_ids(versions: list[DocumentVersion]) -> dict[int, int | None]:
    """{version id: its approver's user id} for many versions in two queries (digest, to-dos)."""
    from portal.raci.services import accountable_departments

    a_depts = accountable_departments([v.document.process_id for v in versions])
    owner_ids = {v.document.department_id for v in versions if v.document.process_id is None}
    owners = {d.id: d for d in db.session.scalars(sa.select(Department).where(Department.id.in_(owner_ids)))} \
        if owner_ids else {}
    out = {}
    for v in versions:
        dept = a_depts.get(v.document.process_id) if v.document.process_id else owners.get(v.document.department_id)
        out[v.id] = dept.head_id if dept is not None and dept.active else None
    return out


# -- taking effect, obsolescence ------------------------------------------------------------------
def make_effective(version: DocumentVersion, *, actor=None, today: date | None = None) -> DocumentVersion:
    """Approved → effective; the version effective before it is superseded and its paper copies recalled.
    Sends ``document_effective`` (with the retraining decision) in this transaction."""
    today = today or local_today()
    document = version.document
    if version.status != APPROVED:
        raise ServiceError((None, _("Only an approved version takes effect.")))
    previous = document.current_version
    now = utcnow()
    if previous is not None:
        _transition(previous, EFFECTIVE, status=SUPERSEDED, superseded_at=now)
        record("sop.supersede", previous, actor=actor, before={"status": EFFECTIVE}, after={"status": SUPERSEDED},
               extra={"document_id": document.id, "version": previous.label, "superseded_by": version.label})
        _recall_copies(previous, actor)
    try:
        with db.session.begin_nested():
            _transition(version, APPROVED, status=EFFECTIVE, effective_at=now)
    except IntegrityError:
        raise Conflict((None, _("Another version of %(code)s became effective at the same moment.", code=document.code)))
    document.current_version_id = version.id
    document.next_review_on = add_months(version.effective_on or today, document.review_period_months)
    document.updated_at = now
    db.session.flush()
    db.session.refresh(document)
    record("sop.effective", version, actor=actor, before={"status": APPROVED}, after={"status": EFFECTIVE},
           extra={"document_id": document.id, "version": version.label,
                  "supersedes": previous.label if previous else None,
                  "retraining_required": version.retraining_required})
    reindex(document)
    notify(version.author, KIND_EFFECTIVE,
           _("%(title)s is now effective", title=f"{document.code} {document.title} v{version.label}"),
           "", version_path(version), department_id=document.department_id,
           dedupe_key=f"sop.effective:{version.id}")
    signals.document_effective.send(version, document=document, superseded=previous, actor=actor,
                                    retraining_required=version.retraining_required,
                                    retraining_reason=version.retraining_reason)
    return version


def due_versions(today: date) -> list[int]:
    return list(db.session.scalars(sa.select(DocumentVersion.id).where(
        DocumentVersion.status == APPROVED, DocumentVersion.effective_on <= today).order_by(DocumentVersion.id)))


def register_external_edition(actor, version: DocumentVersion, *, effective_on: date | None = None,
                              today: date | None = None) -> DocumentVersion:
    """External documents (laws, standards) are registered, not approved here: their draft, with its edition's
    file or text, becomes the effective version at once."""
    today = today or local_today()
    _ensure_draft(actor, version)
    document = version.document
    if not document.is_external:
        raise PermissionDenied()
    if not version.body.strip() and version.file_id is None:
        raise ServiceError(("body", _("Attach the file or write the text first.")))
    digest = compute_sha256(version)
    _transition(version, DRAFT, status=APPROVED, content_sha256=digest, submitted_at=utcnow(),
                effective_on=effective_on or today, approved_at=utcnow(), retraining_required=False,
                retraining_reason=_("External document"))
    record("sop.external_register", version, actor=actor, before={"status": DRAFT}, after={"status": APPROVED},
           extra={"document_id": document.id, "version": version.label, "edition": document.edition,
                  "content_sha256": digest})
    return make_effective(version, actor=actor, today=today)


def make_obsolete(actor, document: Document, password: str, reason: str) -> None:
    """作废: the approver or a document controller signs; the effective version and any draft become
    obsolete, and the paper copies are recalled."""
    if document.is_obsolete or not (is_controller(actor) or is_approver(actor, document)):
        raise PermissionDenied()
    reason = _clean_comment(reason, required=True, field="reason")
    busy = open_version(document)
    if busy is not None and busy.status != DRAFT:
        raise ServiceError((None, _("Version %(version)s is %(status)s: finish or return it first.",
                                    version=busy.label, status=busy.status_label)))
    current = document.current_version
    target = current or busy or document.latest_version
    digest = target.content_sha256 or compute_sha256(target)
    signature = sign(actor, password, OBSOLETE_MEANING, object_type=SIGNATURE_OBJECT, object_id=target.id,
                     content_sha256=digest, comment=reason)
    now = utcnow()
    for version in (current, busy):
        if version is not None:
            before = version.status
            _transition(version, before, status=OBSOLETE, superseded_at=now)
            record("sop.version_obsolete", version, actor=actor, before={"status": before}, after={"status": OBSOLETE},
                   extra={"document_id": document.id, "version": version.label})
            if before == EFFECTIVE:
                _recall_copies(version, actor)
    document.obsolete_at, document.obsolete_reason, document.current_version_id = now, reason, None
    document.next_review_on, document.updated_at = None, now
    db.session.flush()
    record("sop.obsolete", document, actor=actor, after={"obsolete": True},
           extra={"reason": reason, "signature_id": signature.id})


def may_review_periodically(actor, document: Document) -> bool:
    if document.current_version_id is None:
        return False
    owner = db.session.get(Department, document.department_id)
    return is_controller(actor) or is_approver(actor, document) or (owner is not None and owner.head_id == actor.id)


def periodic_review(actor, document: Document, password: str, comment: str = "", *,
                    today: date | None = None) -> date:
    """评审无需修改: the owning department's head, the approver or a controller signs 定期评审 over the
    effective content; the next review date moves on by the review period."""
    today = today or local_today()
    version = document.current_version
    if version is None or not may_review_periodically(actor, document):
        raise PermissionDenied()
    comment = _clean_comment(comment)
    digest = _check_unchanged(version, None)
    signature = sign(actor, password, PERIODIC, object_type=SIGNATURE_OBJECT, object_id=version.id,
                     content_sha256=digest, comment=comment)
    before = document.next_review_on
    document.next_review_on = add_months(today, document.review_period_months)
    document.updated_at = utcnow()
    db.session.flush()
    record("sop.periodic_review", document, actor=actor,
           before={"next_review_on": before.isoformat() if before else None},
           after={"next_review_on": document.next_review_on.isoformat()},
           extra={"version": version.label, "signature_id": signature.id})
    return document.next_review_on


def reviews_due(today: date) -> list[Document]:
    return list(db.session.scalars(sa.select(Document).where(
        Document.current_version_id.is_not(None), Document.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS))
        .options(selectinload(Document.department)).order_by(Document.next_review_on, Document.code)))


def review_owner(document: Document) -> User | None:
    """Who is told that a periodic review is due: the owning department's head, else whoever registered it."""
    head = document.department.head if document.department is not None else None
    if head is not None and head.active:
        return head
    return document.created_by if document.created_by is not None and document.created_by.active else None


def notify_reviews_due(today: date) -> int:
    """Tell each owner once per state (due within 30 days, overdue) and review date."""
    sent = 0
    for document in reviews_due(today):
        owner = review_owner(document)
        if owner is None:
            continue
        overdue = document.next_review_on < today
        title = (_("Periodic review of %(title)s is overdue", title=f"{document.code} {document.title}") if overdue
                 else _("Periodic review of %(title)s is due by %(day)s", title=f"{document.code} {document.title}",
                        day=document.next_review_on.isoformat()))
        note = notify(owner, KIND_PERIODIC, title, "", document_path(document.id), department_id=document.department_id,
                      dedupe_key=f"sop.review_due:{document.id}:{document.next_review_on}:{'overdue' if overdue else 'due'}")
        sent += 1 if note is not None else 0
    return sent


# -- controlled copies ----------------------------------------------------------------------------
def _recall_copies(version: DocumentVersion, actor) -> None:
    copies = db.session.scalars(sa.select(ControlledCopy).where(
        ControlledCopy.version_id == version.id, ControlledCopy.recalled_at.is_(None),
        ControlledCopy.recall_requested_at.is_(None))).all()
    if not copies:
        return
    now = utcnow()
    document = version.document
    for copy in copies:
        copy.recall_requested_at = now
        record("sop.copy_recall", copy, actor=actor, extra={"document_id": document.id, "version": version.label,
                                                           "number": copy.number})
        if copy.holder_user is not None:
            notify(copy.holder_user, KIND_RECALL,
                   _("Return controlled copy no. %(n)d of %(title)s", n=copy.number,
                     title=f"{document.code} {document.title} v{version.label}"),
                   _("The version has been replaced. Hand the paper copy back to the document controller."),
                   document_path(document.id), department_id=document.department_id,
                   dedupe_key=f"sop.recall:{copy.id}")
    db.session.flush()


def issue_copy(actor, version: DocumentVersion, *, holder_user_id: int | None = None, holder_place: str = "",
               request_key: str = "") -> ControlledCopy:
    """Print a controlled copy: the next number for this version and its holder (a person or a place)."""
    document = version.document
    if not may_manage_copies(actor, document):
        raise PermissionDenied()
    if version.status != EFFECTIVE:
        raise ServiceError((None, _("Controlled copies are issued of the effective version only.")))
    key = (request_key or "")[:64] or None
    if key and (existing := db.session.scalar(sa.select(ControlledCopy).where(ControlledCopy.request_key == key))):
        return existing
    holder = db.session.get(User, holder_user_id) if holder_user_id else None
    holder_place = " ".join((holder_place or "").split())[:200]
    if holder_user_id and (holder is None or not holder.active):
        raise ServiceError(("holder_user_id", _("Choose an active user.")))
    if holder is None and not holder_place:
        raise ServiceError(("holder_place", _("Name the holder: a person, or a place such as a service window.")))
    for _attempt in range(3):
        number = (db.session.scalar(sa.select(sa.func.max(ControlledCopy.number)).where(
            ControlledCopy.version_id == version.id)) or 0) + 1
        copy = ControlledCopy(version_id=version.id, number=number, holder_user_id=holder.id if holder else None,
                              holder_place="" if holder else holder_place, issued_by_id=actor.id, request_key=key)
        try:
            with db.session.begin_nested():
                db.session.add(copy)
                db.session.flush()
            break
        except IntegrityError:
            if key and (existing := db.session.scalar(sa.select(ControlledCopy).where(ControlledCopy.request_key == key))):
                return existing
    else:
        raise Conflict((None, _("Several copies were issued at the same moment. Try again.")))
    record("sop.copy_issue", copy, actor=actor, after={"number": number, "holder": copy.holder_name},
           extra={"document_id": document.id, "version": version.label})
    return copy


def get_copy(actor, document: Document, copy_id: int) -> ControlledCopy:
    copy = db.session.get(ControlledCopy, copy_id)
    if copy is None or copy.version.document_id != document.id or not may_manage_copies(actor, document):
        raise NotFound()
    return copy


def mark_returned(actor, copy: ControlledCopy, note: str = "") -> ControlledCopy:
    """The copy is back (回收): only the document's copy managers record it."""
    if not may_manage_copies(actor, copy.version.document):
        raise PermissionDenied()
    result = db.session.execute(sa.update(ControlledCopy).where(
        ControlledCopy.id == copy.id, ControlledCopy.recalled_at.is_(None)).values(
        recalled_at=utcnow(), recalled_by_id=actor.id, recall_note=" ".join((note or "").split())[:300])
        .execution_options(synchronize_session=False))
    db.session.expire(copy)
    if result.rowcount != 1:
        raise Conflict((None, _("Copy no. %(n)d has already been returned.", n=copy.number)))
    record("sop.copy_return", copy, actor=actor, extra={"document_id": copy.version.document_id,
                                                       "number": copy.number})
    return copy


def copies_of(document: Document) -> list[ControlledCopy]:
    return list(db.session.scalars(
        sa.select(ControlledCopy).join(DocumentVersion, DocumentVersion.id == ControlledCopy.version_id)
        .where(DocumentVersion.document_id == document.id)
        .options(selectinload(ControlledCopy.version), selectinload(ControlledCopy.holder_user))
        .order_by(DocumentVersion.major.desc(), DocumentVersion.minor.desc(), ControlledCopy.number)))


def copies_to_recall(user) -> list[ControlledCopy]:
    """Copies awaiting return that ``user`` holds or (as their manager) must collect."""
    stmt = (sa.select(ControlledCopy).where(ControlledCopy.recall_requested_at.is_not(None),
                                            ControlledCopy.recalled_at.is_(None))
            .options(selectinload(ControlledCopy.version).selectinload(DocumentVersion.document)))
    copies = db.session.scalars(stmt.order_by(ControlledCopy.recall_requested_at)).all()
    return [c for c in copies if c.holder_user_id == user.id or may_manage_copies(user, c.version.document)]


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


# -- what waits for whom --------------------------------------------------------------------------
def waiting_for(users: list[User]) -> dict[int, list[tuple[str, DocumentVersion]]]:
    """{user id: [("review" | "approve", version)]}: pending reviews and approvals, in a fixed number of queries."""
    ids = {u.id for u in users}
    out: dict[int, list[tuple[str, DocumentVersion]]] = {i: [] for i in ids}
    if not ids:
        return out
    reviews = db.session.execute(
        sa.select(DocumentReviewer.user_id, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.id == DocumentReviewer.version_id)
        .where(DocumentVersion.status == IN_REVIEW, DocumentReviewer.decision == PENDING,
               DocumentReviewer.user_id.in_(ids))
        .options(selectinload(DocumentVersion.document))).all()
    for user_id, version in reviews:
        out[user_id].append((REVIEW, version))
    awaiting = _awaiting_approval()
    for version_id, approver_id in approver_ids(awaiting).items():
        version = next(v for v in awaiting if v.id == version_id)
        if approver_id in ids and approver_id != version.author_id:
            out[approver_id].append((APPROVE, version))
    return out


def is_frozen(version: DocumentVersion) -> bool:
    return version.status in FROZEN


# -- printing -------------------------------------------------------------------------------------
def signature_manifest(version: DocumentVersion) -> list:
    from portal.esign.services import signatures_for

    return signatures_for(SIGNATURE_OBJECT, version.id)


def version_pdf(actor, version: DocumentVersion, copy: ControlledCopy | None = None) -> bytes:
    """The PDF of a version: controlled (``copy``: its number and holder) or 非受控 仅供参考; 已作废 across
    every page when the version is no longer effective; the signature page last."""
    from babel.dates import format_date, format_datetime

    from portal.esign.services import MEANINGS
    from portal.sop import pdf

    if not may_read_version(actor, version):
        raise NotFound()
    if copy is not None and (copy.version_id != version.id or not may_manage_copies(actor, version.document)):
        raise NotFound()
    document = version.document
    tz = "Asia/Shanghai"
    html, _text = version_content(version)
    if copy is not None:
        mark = _("Controlled copy no. %(n)d · holder: %(holder)s", n=copy.number, holder=copy.holder_name)
    else:
        mark = _("Uncontrolled copy, for reference only")
    watermark = ""
    if version.status in (SUPERSEDED, OBSOLETE):
        watermark = pgettext("watermark", "Superseded")
    elif version.status != EFFECTIVE:
        watermark = pgettext("watermark", "Not effective")
    signatures = [pdf.PdfSignature(
        signer_name=s.signer_name, meaning_label=str(MEANINGS.get(s.meaning, s.meaning)),
        signed_at_text=format_datetime(s.signed_at, "yyyy-MM-dd HH:mm:ss", tzinfo=tz, locale="zh_Hans_CN"),
        comment=s.comment, content_sha256=s.content_sha256) for s in signature_manifest(version)]
    return pdf.render_pdf(pdf.PdfDocument(
        code=document.code, title=document.title, version_label=version.label,
        effective_text=format_date(version.effective_on, "long", locale="zh_Hans_CN") if version.effective_on else "",
        department=document.department.name, process=document.process.label if document.process else "",
        doc_type=str(document.type_label), change_summary=version.change_summary, body_html=html,
        attachment_note=(_("Attached file: %(name)s (download it from the portal)", name=version.file.display_name)
                         if version.file is not None and version.file.kind != "docx" else ""),
        watermark_text=watermark, copy_mark=mark, signatures=signatures,
        printed_at_text=format_datetime(utcnow(), "yyyy-MM-dd HH:mm", tzinfo=tz, locale="zh_Hans_CN"),
        printed_by=actor.display_name))
