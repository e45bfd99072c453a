"""培训记录: classroom sessions. Someone organises a session (topic, trainer, time, place, the controlled
documents it teaches, who is invited); the trainer signs the attendees in, all at once with one password entry,
and that completes each signed attendee's open assignments for the session's documents.

**Who may do what**

* organise (create, edit): managers (administrators, quality managers) for anyone; a department head for the
  departments they head, inviting only those departments' people;
* see a session: its organisers (managers, the head of its department, whoever created it), its trainer and
  its invitees; anyone else gets "not found";
* sign attendees in: the trainer only (everyone else: 403), from the session's start on;
* print the attendance sheet (签到表): the organisers and the trainer.

**Signing in** is ``esign.sign_many`` with the meaning ``trainer_attest``: one signature row per attendee,
object ``training_session_attendee`` (the attendee row's id), over the SHA-256 of the session, the person and
the documents with their effective versions. The session row is locked first, so a twin submit waits and then
finds the attendees signed: signing someone twice does nothing. A wrong password signs nobody and completes
nothing (the failed attempt is kept: ``SignatureRejected.keep_changes``). Assignments are completed with
conditional UPDATEs (``status = 'open'``): ``done``, ``completed_by = 'classroom'``, the session and the
signature.

Functions take the acting user, check permissions, flush, never commit, and audit each state change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.i18n import local_datetime
from portal.core.pdf import FONT_FAMILY, html_to_pdf
from portal.core.registry import register_demo_seeder
from portal.core.types import utcnow
from portal.esign.services import content_hash, sign_many
from portal.extensions import db
from portal.org.models import Department, User
from portal.sop.models import Document
from portal.training.models import (BY_CLASSROOM, DONE, OPEN, SessionAttendee, TrainingAssignment,
                                    TrainingSession)
from portal.training.services import (_chunks, active_user, headed_department_ids, is_manager, new_request_key)

__all__ = ["new_request_key"]

SIGNATURE_OBJECT = "training_session_attendee"
TRAINER_ATTEST = "trainer_attest"
#: The most people one session invites, and one password entry signs.
MAX_ATTENDEES = 200
MAX_DOCUMENTS = 30
TOPIC_MAX, PLACE_MAX, NOTES_MAX = 200, 200, 4000
PER_PAGE = 50
UPCOMING, PAST = "upcoming", "past"


def session_path(session_id: int) -> str:
    return f"/training/sessions/{session_id}"


# -- who may do what ------------------------------------------------------------------------------
def organising_department_ids(actor) -> list[int] | None:
    """The departments ``actor`` may organise sessions for: None for all (managers), else those they head."""
    if is_manager(actor):
        return None
    return headed_department_ids(actor)


def may_create(actor) -> bool:
    return is_manager(actor) or bool(headed_department_ids(actor))


def may_organise(actor, session: TrainingSession) -> bool:
    """Edit the session, print its sheet: managers, the head of its department (and its creator when they still
    head a department the session is for)."""
    if not active_user(actor):
        return False
    if is_manager(actor):
        return True
    return session.department_id is not None and session.department_id in headed_department_ids(actor)


def may_see(actor, session: TrainingSession) -> bool:
    if not active_user(actor):
        return False
    if may_organise(actor, session) or session.trainer_id == actor.id or session.created_by_id == actor.id:
        return True
    return any(a.user_id == actor.id for a in session.attendees)


def get_session(actor, session_id: int) -> TrainingSession:
    """A session the actor may see (else NotFound, so its existence does not leak)."""
    session = db.session.get(TrainingSession, session_id)
    if session is None or not may_see(actor, session):
        raise NotFound()
    return session


# -- choices for the form -------------------------------------------------------------------------
def document_choices() -> list[Document]:
    """The effective controlled documents a session can teach."""
    return list(db.session.scalars(sa.select(Document).where(Document.current_version_id.is_not(None),
                                                             Document.obsolete_at.is_(None))
                                   .order_by(Document.code)))


def department_choices(actor) -> list[Department]:
    allowed = organising_department_ids(actor)
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    if allowed is not None:
        query = query.where(Department.id.in_(allowed or [-1]))
    return list(db.session.scalars(query))


def invitable_users(actor) -> list[User]:
    """People ``actor`` may invite: everyone active for a manager, the members of their departments for a head."""
    allowed = organising_department_ids(actor)
    query = sa.select(User).where(User.active.is_(True)).order_by(User.department_id, User.display_name)
    if allowed is not None:
        query = query.where(User.department_id.in_(allowed or [-1]))
    return list(db.session.scalars(query.options(selectinload(User.department))))


def trainer_choices() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.display_name)))


def open_assignee_ids(document_ids: list[int], department_id: int) -> list[int]:
    """Active members of the department with an open current assignment for any of the documents."""
    if not document_ids or not department_id:
        return []
    return list(db.session.scalars(
        sa.select(TrainingAssignment.user_id).distinct().join(User, User.id == TrainingAssignment.user_id)
        .where(TrainingAssignment.document_id.in_(document_ids), TrainingAssignment.status == OPEN,
               TrainingAssignment.current == sa.true(), User.department_id == department_id, User.active.is_(True))
        .order_by(TrainingAssignment.user_id)))


# -- create and edit ------------------------------------------------------------------------------
@dataclass
class SessionFields:
    topic: str = ""
    trainer_id: int | None = None
    department_id: int | None = None
    starts_at: datetime | None = None  # aware (UTC or local): stored as UTC
    ends_at: datetime | None = None
    place: str = ""
    notes: str = ""
    document_ids: list[int] = field(default_factory=list)
    attendee_ids: list[int] = field(default_factory=list)
    #: Also invite everyone of this department with open training on the documents.
    fill_department_id: int | None = None


@dataclass
class _Checked:
    trainer: User
    department: Department | None
    documents: list[Document]
    attendees: list[int]


def _check(actor, fields: SessionFields) -> _Checked:
    errors = []
    allowed = organising_department_ids(actor)
    fields.topic = " ".join((fields.topic or "").split())
    fields.place = " ".join((fields.place or "").split())
    fields.notes = (fields.notes or "").strip()
    if not fields.topic:
        errors.append(("topic", _("Give the session a topic.")))
    elif len(fields.topic) > TOPIC_MAX:
        errors.append(("topic", _("At most %(n)d characters.", n=TOPIC_MAX)))
    if len(fields.place) > PLACE_MAX:
        errors.append(("place", _("At most %(n)d characters.", n=PLACE_MAX)))
    if len(fields.notes) > NOTES_MAX:
        errors.append(("notes", _("At most %(n)d characters.", n=NOTES_MAX)))
    trainer = db.session.get(User, fields.trainer_id) if fields.trainer_id else None
    if trainer is None or not trainer.active:
        errors.append(("trainer_id", _("Choose an active person as the trainer.")))
    department = db.session.get(Department, fields.department_id) if fields.department_id else None
    if fields.department_id and (department is None or not department.active):
        errors.append(("department_id", _("Choose an active department.")))
    elif allowed is not None and (department is None or department.id not in allowed):
        errors.append(("department_id", _("Choose a department you head.")))
    if fields.starts_at is None:
        errors.append(("starts_at", _("Enter when the session starts.")))
    if fields.ends_at is None:
        errors.append(("ends_at", _("Enter when the session ends.")))
    elif fields.starts_at is not None and fields.ends_at < fields.starts_at:
        errors.append(("ends_at", _("The end cannot be before the start.")))
    doc_ids = list(dict.fromkeys(fields.document_ids or []))
    documents = []
    if len(doc_ids) > MAX_DOCUMENTS:
        errors.append(("document_ids", _("At most %(n)d documents.", n=MAX_DOCUMENTS)))
    elif doc_ids:
        found = {d.id: d for d in db.session.scalars(sa.select(Document).where(Document.id.in_(doc_ids)))}
        documents = [found[i] for i in doc_ids if i in found]
        if len(documents) != len(doc_ids) or any(d.current_version_id is None or d.is_obsolete for d in documents):
            errors.append(("document_ids", _("Choose effective controlled documents.")))
    attendees = list(dict.fromkeys(fields.attendee_ids or []))
    if fields.fill_department_id:
        if allowed is not None and fields.fill_department_id not in allowed:
            errors.append(("fill_department_id", _("Choose a department you head.")))
        elif not doc_ids:
            errors.append(("fill_department_id", _("Choose the documents first: it invites the people with open "
                                                   "training on them.")))
        else:
            attendees += [i for i in open_assignee_ids(doc_ids, fields.fill_department_id) if i not in attendees]
    if trainer is not None and trainer.id in attendees:
        if fields.fill_department_id and trainer.id not in (fields.attendee_ids or []):
            attendees.remove(trainer.id)  # filled in from the department: the trainer is not their own pupil
        else:
            errors.append(("attendee_ids", _("The trainer cannot be one of the attendees.")))
    if len(attendees) > MAX_ATTENDEES:
        errors.append(("attendee_ids", _("At most %(n)d attendees.", n=MAX_ATTENDEES)))
    elif attendees:
        people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(attendees)))}
        if len(people) != len(attendees) or any(not u.active for u in people.values()):
            errors.append(("attendee_ids", _("Choose active people.")))
        elif allowed is not None and any(u.department_id not in allowed for u in people.values()):
            errors.append(("attendee_ids", _("You can invite the people of the departments you head only.")))
    if errors:
        raise ServiceError(*errors)
    return _Checked(trainer, department, documents, attendees)


def _summary(session: TrainingSession) -> dict:
    return {"topic": session.topic, "trainer_id": session.trainer_id, "department_id": session.department_id,
            "starts_at": session.starts_at.isoformat() if session.starts_at else None,
            "ends_at": session.ends_at.isoformat() if session.ends_at else None, "place": session.place,
            "notes": session.notes, "documents": sorted(d.id for d in session.documents),
            "attendees": sorted(a.user_id for a in session.attendees)}


def create_session(actor, fields: SessionFields, *, request_key: str = "") -> TrainingSession:
    """Organise a session. A repeated request with the same ``request_key`` (a double click) returns the
    session the first one created."""
    if not may_create(actor):
        raise PermissionDenied()
    key = (request_key or "")[:64] or None
    if key and (existing := db.session.scalar(sa.select(TrainingSession).where(TrainingSession.request_key == key))):
        return existing
    checked = _check(actor, fields)
    session = TrainingSession(topic=fields.topic, trainer_id=checked.trainer.id,
                              department_id=checked.department.id if checked.department else None,
                              starts_at=fields.starts_at, ends_at=fields.ends_at, place=fields.place,
                              notes=fields.notes, created_by_id=actor.id, created_at=utcnow(), request_key=key)
    try:
        with db.session.begin_nested():
            db.session.add(session)
            db.session.flush()
    except IntegrityError:
        if key and (existing := db.session.scalar(sa.select(TrainingSession).where(TrainingSession.request_key == key))):
            return existing
        raise
    session.documents = checked.documents
    session.attendees = [SessionAttendee(user_id=uid) for uid in checked.attendees]
    db.session.flush()
    record("training.session_create", session, actor=actor, object_type="training_session", after=_summary(session))
    return session


def update_session(actor, session_id: int, fields: SessionFields) -> TrainingSession:
    """Change a session. Once someone is signed in its documents stay (the signatures cover them) and the
    people signed in stay invited."""
    session = get_session(actor, session_id)
    if not may_organise(actor, session):
        raise PermissionDenied()
    checked = _check(actor, fields)
    signed = {a.user_id for a in session.attendees if a.attended_at is not None}
    errors = []
    if signed and {d.id for d in checked.documents} != {d.id for d in session.documents}:
        errors.append(("document_ids", _("People are already signed in: the documents can no longer change.")))
    if signed - set(checked.attendees):
        errors.append(("attendee_ids", _("People signed in stay on the list (%(n)d removed).",
                                         n=len(signed - set(checked.attendees)))))
    if signed and checked.trainer.id in signed:
        errors.append(("trainer_id", _("The trainer cannot be one of the attendees.")))
    if errors:
        raise ServiceError(*errors)
    before = _summary(session)
    session.topic, session.trainer_id, session.place, session.notes = (fields.topic, checked.trainer.id,
                                                                       fields.place, fields.notes)
    session.department_id = checked.department.id if checked.department else None
    session.starts_at, session.ends_at = fields.starts_at, fields.ends_at
    session.documents = checked.documents
    keep = set(checked.attendees)
    session.attendees = [a for a in session.attendees if a.user_id in keep] + [
        SessionAttendee(user_id=uid) for uid in checked.attendees
        if uid not in {a.user_id for a in session.attendees}]
    db.session.flush()
    after = _summary(session)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        record("training.session_update", session, actor=actor, object_type="training_session",
               before={k: before[k] for k in sorted(changed)}, after={k: after[k] for k in sorted(changed)})
    return session


def fields_of(session: TrainingSession) -> SessionFields:
    return SessionFields(topic=session.topic, trainer_id=session.trainer_id, department_id=session.department_id,
                         starts_at=session.starts_at, ends_at=session.ends_at, place=session.place,
                         notes=session.notes, document_ids=[d.id for d in session.documents],
                         attendee_ids=[a.user_id for a in session.attendees])


def has_started(session: TrainingSession) -> bool:
    return session.starts_at <= utcnow()


# -- signing attendees in -------------------------------------------------------------------------
def attendee_fingerprint(session: TrainingSession, user_id: int) -> str:
    """What the trainer's signature for one attendee covers: the session, the person, and each document with
    its effective version's content hash."""
    docs = ";".join(f"{d.id}:{d.code}:{d.current_version_id}:"
                    f"{d.current_version.content_sha256 if d.current_version else ''}"
                    for d in sorted(session.documents, key=lambda d: d.id))
    return content_hash(f"training_session:{session.id}", f"user:{user_id}", docs)


@dataclass
class SignResult:
    signed: list[SessionAttendee]
    already: int          # chosen people who were signed in before (a twin submit)
    completed: int        # assignments completed


def sign_attendees(actor, session_id: int, user_ids: list[int], password: str) -> SignResult:
    """The trainer signs the chosen invitees in with one password entry (see the module's docstring)."""
    session = get_session(actor, session_id)
    if session.trainer_id != getattr(actor, "id", None):
        raise PermissionDenied()
    chosen = list(dict.fromkeys(user_ids or []))
    if not chosen:
        raise ServiceError(("attendees", _("Tick the people who attended.")))
    if len(chosen) > MAX_ATTENDEES:
        raise ServiceError(("attendees", _("At most %(n)d attendees.", n=MAX_ATTENDEES)))
    if not has_started(session):
        raise ServiceError((None, _("The session has not started yet: sign the attendees in when it takes place.")))
    # A twin submit waits here until the first one commits, then finds its attendees signed.
    db.session.execute(sa.select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update())
    db.session.expire(session, ["attendees"])
    invited = {a.user_id: a for a in session.attendees}
    if any(uid not in invited for uid in chosen):
        raise ServiceError(("attendees", _("Only invited people can be signed in.")))
    pending = [invited[uid] for uid in chosen if invited[uid].attended_at is None]
    already = len(chosen) - len(pending)
    if not pending:
        return SignResult([], already, 0)
    items = [(a.id, attendee_fingerprint(session, a.user_id)) for a in pending]
    signatures = sign_many(actor, password, TRAINER_ATTEST, object_type=SIGNATURE_OBJECT, items=items,
                           max_batch=MAX_ATTENDEES)
    now = utcnow()
    doc_ids = [d.id for d in session.documents]
    signed, completed_ids = [], []
    for attendee, signature in zip(pending, signatures):
        claimed = db.session.execute(
            sa.update(SessionAttendee).where(SessionAttendee.id == attendee.id, SessionAttendee.attended_at.is_(None))
            .values(attended_at=now, signature_id=signature.id),
            execution_options={"synchronize_session": False}).rowcount
        if not claimed:
            continue
        signed.append(attendee)
        if doc_ids:
            completed_ids += db.session.scalars(
                sa.update(TrainingAssignment)
                .where(TrainingAssignment.user_id == attendee.user_id, TrainingAssignment.document_id.in_(doc_ids),
                       TrainingAssignment.current == sa.true(), TrainingAssignment.status == OPEN)
                .values(status=DONE, completed_at=now, completed_by=BY_CLASSROOM, session_id=session.id,
                        signature_id=signature.id)
                .returning(TrainingAssignment.id),
                execution_options={"synchronize_session": False}).all()
    db.session.expire_all()
    if signed:
        record("training.session_sign", session, actor=actor, object_type="training_session",
               after={"attendees": sorted(a.user_id for a in signed)},
               extra={"count": len(signed), "assignments_completed": len(completed_ids),
                      "assignment_ids": sorted(completed_ids)[:MAX_ATTENDEES * 5]})
    return SignResult(signed, already, len(completed_ids))


# -- reading --------------------------------------------------------------------------------------
@dataclass
class SessionFilters:
    department_id: int | None = None
    when: str = ""   # "", "upcoming", "past"
    page: int = 1


@dataclass
class SessionRow:
    session: TrainingSession
    invited: int
    signed: int


@dataclass
class SessionPage:
    rows: list[SessionRow]
    pagination: object  # Flask-SQLAlchemy's Pagination (page, pages, total, iter_pages)

    @property
    def total(self) -> int:
        return self.pagination.total if self.pagination is not None else 0


def _visible(actor) -> sa.ColumnElement:
    if is_manager(actor):
        return sa.true()
    mine = sa.select(SessionAttendee.session_id).where(SessionAttendee.user_id == actor.id)
    return sa.or_(TrainingSession.department_id.in_(headed_department_ids(actor) or [-1]),
                  TrainingSession.trainer_id == actor.id, TrainingSession.created_by_id == actor.id,
                  TrainingSession.id.in_(mine))


def list_sessions(actor, filters: SessionFilters) -> SessionPage:
    """The sessions the actor may see: upcoming (not yet ended) soonest first, past ones latest first."""
    if not active_user(actor):
        return SessionPage([], None)
    query = sa.select(TrainingSession).where(_visible(actor))
    if filters.department_id:
        query = query.where(TrainingSession.department_id == filters.department_id)
    now = utcnow()
    if filters.when == UPCOMING:
        query = query.where(TrainingSession.ends_at >= now).order_by(TrainingSession.starts_at, TrainingSession.id)
    elif filters.when == PAST:
        query = query.where(TrainingSession.ends_at < now).order_by(TrainingSession.starts_at.desc(),
                                                                   TrainingSession.id.desc())
    else:
        query = query.order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
    pagination = db.paginate(query.options(selectinload(TrainingSession.trainer),
                                           selectinload(TrainingSession.department),
                                           selectinload(TrainingSession.documents)),
                             page=max(1, filters.page), per_page=PER_PAGE, error_out=False)
    sessions = list(pagination.items)
    counts = {}
    if sessions:
        counts = {r.session_id: (r.invited, r.signed) for r in db.session.execute(
            sa.select(SessionAttendee.session_id, sa.func.count().label("invited"),
                      sa.func.count(SessionAttendee.attended_at).label("signed"))
            .where(SessionAttendee.session_id.in_([s.id for s in sessions])).group_by(SessionAttendee.session_id))}
    return SessionPage([SessionRow(s, *counts.get(s.id, (0, 0))) for s in sessions], pagination)


def list_departments(actor) -> list[Department]:
    """The departments the list can be filtered by."""
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    if not is_manager(actor):
        ids = set(headed_department_ids(actor)) | set(db.session.scalars(
            sa.select(TrainingSession.department_id).where(_visible(actor), TrainingSession.department_id.is_not(None))))
        query = query.where(Department.id.in_(ids or [-1]))
    return list(db.session.scalars(query))


@dataclass
class AttendeeRow:
    attendee: SessionAttendee
    user: User
    department: str
    open_count: int       # open assignments for the session's documents
    completed_here: int   # assignments this session completed


def attendee_rows(session: TrainingSession) -> list[AttendeeRow]:
    attendees = list(db.session.scalars(
        sa.select(SessionAttendee).where(SessionAttendee.session_id == session.id)
        .options(selectinload(SessionAttendee.user).selectinload(User.department))))
    doc_ids = [d.id for d in session.documents]
    open_counts, done_counts = {}, {}
    user_ids = [a.user_id for a in attendees]
    if doc_ids and user_ids:
        for ids in _chunks(user_ids):
            open_counts |= dict(db.session.execute(
                sa.select(TrainingAssignment.user_id, sa.func.count()).where(
                    TrainingAssignment.user_id.in_(ids), TrainingAssignment.document_id.in_(doc_ids),
                    TrainingAssignment.current == sa.true(), TrainingAssignment.status == OPEN)
                .group_by(TrainingAssignment.user_id)).all())
            done_counts |= dict(db.session.execute(
                sa.select(TrainingAssignment.user_id, sa.func.count()).where(
                    TrainingAssignment.user_id.in_(ids), TrainingAssignment.session_id == session.id)
                .group_by(TrainingAssignment.user_id)).all())
    rows = [AttendeeRow(a, a.user, a.user.department.name if a.user.department else "", open_counts.get(a.user_id, 0),
                        done_counts.get(a.user_id, 0)) for a in attendees]
    return sorted(rows, key=lambda r: (r.department, r.user.display_name, r.user.id))


# -- the attendance sheet (签到表) -----------------------------------------------------------------
ATTENDANCE_TEMPLATE = "training/pdf/attendance.html"


def attendance_html(actor, session_id: int) -> str:
    session = get_session(actor, session_id)
    if not may_organise(actor, session) and session.trainer_id != actor.id:
        raise PermissionDenied()
    locale = get_locale()
    return render_template(ATTENDANCE_TEMPLATE, session=session, rows=attendee_rows(session), font_family=FONT_FAMILY,
                           html_lang=str(locale).replace("_", "-") if locale else "zh-Hans-CN",
                           starts=local_datetime(session.starts_at), ends=local_datetime(session.ends_at, "HH:mm"),
                           printed=local_datetime(utcnow()), printed_by=actor.display_name)


def attendance_pdf(actor, session_id: int) -> bytes:
    """The attendance sheet to sign on paper: the session, its documents, every invitee with their department
    and an empty signature box (raises PdfUnavailable on a host without the PDF libraries)."""
    return html_to_pdf(attendance_html(actor, session_id))


def attendance_filename(session: TrainingSession) -> tuple[str, str]:
    """(中文 file name, ASCII fallback) of the sheet."""
    day = local_datetime(session.starts_at, "yyyyMMdd")
    topic = "".join(ch for ch in session.topic if ch not in '\\/:*?"<>|')[:60]
    return f"签到表-{topic}-{day}.pdf", f"attendance-{session.id}-{day}.pdf"


def register() -> None:
    """Register what this part contributes (called from hooks.setup())."""
    from portal.training import session_audit, session_demo

    session_audit.register()
    register_demo_seeder("training_sessions", session_demo.seed_sessions, order=65)
