"""Training rules: who must read which document, the assignments that follow, the read-and-understood
sign-off (with the password again and an optional quiz), waivers, and the reactions to the other domains'
signals.

**Who must train on a document** (``required_user_ids``): the active members of the departments that are R
for the document's process in the responsibility matrix (the owning department when it has no process), plus
the members of positions and the people added explicitly (``TrainingRule``), minus the members of excluded
positions (a person added by name stays). Document types can be switched off (``TrainingTypeSetting``).

**When assignments appear**, always for the document's effective version:

* the version takes effect requiring retraining (``document_effective``): everyone required gets one, due in
  the type's ``due_days``; older assignments stop being current, open ones are closed as superseded;
* it takes effect with "no retraining needed": none is created, open assignments move to the new version, and
  the reason is recorded in the audit trail;
* someone joins the people required — a new or reactivated user (``user_joined``), a move of department or
  position (``user_moved``), a matrix cell becoming R (``matrix_changed``), a rule added on the document page —
  gets one for each document that now applies; someone who leaves them has their open ones closed as not
  applicable (completed ones stay, they are the record); a deactivated user's open ones close the same way.

Functions take the acting user, check what the actor may do, flush but never commit, and write an audit event
for each state change (one per bulk change, naming how many). Status changes that two requests could race on
are conditional UPDATEs.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.esign.services import sign_if
from portal.extensions import db
from portal.notify.services import notify_many
from portal.org import services as org_services
from portal.org.models import Department, Position, User
from portal.org.services import heads_department, is_manager
from portal.org.services import is_active_user as active_user
from portal.raci.services import departments_with, processes_for
from portal.sop.models import (DOC_TYPES, EFFECTIVE, EXTERNAL, FORM, RECORD, TYPE_LABELS, Document,
                               DocumentVersion)
from portal.training.models import (ADD_POSITION, ADD_USER, BY_SIGNOFF, DONE, EXCLUDE_POSITION,
                                    NOT_APPLICABLE, OPEN, RULE_KINDS, SOURCE_EFFECTIVE, SOURCE_JOINED,
                                    SOURCE_RECONCILE, SOURCE_RULE, SUPERSEDED, WAIVED, Quiz, QuizAttempt,
                                    QuizQuestion, TrainingAssignment, TrainingRule, TrainingTypeSetting)
from portal.workcal.services import local_today

KIND_ASSIGNED = "training.assigned"
SIGNATURE_OBJECT = "training_assignment"
READ_UNDERSTOOD = "read_understood"
BASE_PATH = "/training"
REASON_MAX = 500
#: Bound on the ids in one ``IN (…)`` (SQLite's variable limit, PostgreSQL's plan size).
CHUNK = 900

#: Defaults for a type without a settings row: (trained at all, days to the due date, password at sign-off).
DEFAULT_TYPE_SETTINGS = {doc_type: (doc_type not in (FORM, RECORD, EXTERNAL), 14, True) for doc_type in DOC_TYPES}


def assignment_path(assignment_id: int) -> str:
    return f"{BASE_PATH}/a/{assignment_id}"


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


# -- who may do what ------------------------------------------------------------------------------
def may_oversee(user, department_id: int | None) -> bool:
    """See a department's training records and waive its assignments: its head, or a manager."""
    return is_manager(user) or heads_department(user, department_id)


def headed_department_ids(user) -> list[int]:
    """The active departments ``user`` heads (their training is theirs to oversee)."""
    return org_services.headed_department_ids(user, active_only=True)


def may_manage_document(user, document: Document) -> bool:
    """Edit who must train on a document and its quizzes: managers and the owning department's head."""
    return is_manager(user) or heads_department(user, document.department_id)


# -- per-type settings ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TypeSetting:
    doc_type: str
    enabled: bool
    due_days: int
    require_password: bool

    @property
    def label(self):
        return TYPE_LABELS.get(self.doc_type, self.doc_type)


def type_setting(doc_type: str) -> TypeSetting:
    row = db.session.get(TrainingTypeSetting, doc_type)
    if row is not None:
        return TypeSetting(doc_type, row.enabled, row.due_days, row.require_password)
    enabled, due_days, password = DEFAULT_TYPE_SETTINGS.get(doc_type, (False, 14, True))
    return TypeSetting(doc_type, enabled, due_days, password)


def type_settings() -> list[TypeSetting]:
    rows = {r.doc_type: r for r in db.session.scalars(sa.select(TrainingTypeSetting))}
    out = []
    for doc_type in DOC_TYPES:
        row = rows.get(doc_type)
        if row is not None:
            out.append(TypeSetting(doc_type, row.enabled, row.due_days, row.require_password))
        else:
            enabled, due_days, password = DEFAULT_TYPE_SETTINGS[doc_type]
            out.append(TypeSetting(doc_type, enabled, due_days, password))
    return out


def enabled_types() -> list[str]:
    return [s.doc_type for s in type_settings() if s.enabled]


def save_type_setting(actor: User, doc_type: str, *, enabled: bool, due_days: int | None,
                      require_password: bool) -> TypeSetting:
    if not is_manager(actor):
        raise PermissionDenied()
    if doc_type not in DOC_TYPES:
        raise NotFound()
    if due_days is None or not 1 <= due_days <= 365:
        raise ServiceError(("due_days", _("Enter a number of days between 1 and 365.")))
    before = type_setting(doc_type)
    row = db.session.get(TrainingTypeSetting, doc_type) or TrainingTypeSetting(doc_type=doc_type)
    row.enabled, row.due_days, row.require_password, row.updated_at = enabled, due_days, require_password, utcnow()
    db.session.add(row)
    db.session.flush()
    after = type_setting(doc_type)
    record("training.type_setting", actor=actor, object_type="training_type_setting", object_id=doc_type,
           before={"enabled": before.enabled, "due_days": before.due_days, "require_password": before.require_password},
           after={"enabled": after.enabled, "due_days": after.due_days, "require_password": after.require_password})
    return after


# -- who must train on what -----------------------------------------------------------------------
def required_department_ids(document: Document) -> list[int]:
    if document.process_id is None:
        return [document.department_id]
    return [d.id for d in departments_with(document.process_id, "R") if d.active]


def rules_of(document_id: int) -> list[TrainingRule]:
    return list(db.session.scalars(sa.select(TrainingRule).where(TrainingRule.document_id == document_id)
                                   .order_by(TrainingRule.kind, TrainingRule.id)))


def required_user_ids(document: Document) -> set[int]:
    """The active users who must train on ``document`` (see the module's docstring)."""
    rules = rules_of(document.id)
    added_positions = [r.position_id for r in rules if r.kind == ADD_POSITION]
    excluded_positions = [r.position_id for r in rules if r.kind == EXCLUDE_POSITION]
    added_users = [r.user_id for r in rules if r.kind == ADD_USER]
    wanted = sa.or_(User.department_id.in_(required_department_ids(document) or [-1]),
                    User.position_id.in_(added_positions or [-1]))
    base = set(db.session.scalars(sa.select(User.id).where(User.active.is_(True), wanted)))
    if excluded_positions:
        base -= set(db.session.scalars(sa.select(User.id).where(User.position_id.in_(excluded_positions))))
    if added_users:
        base |= set(db.session.scalars(sa.select(User.id).where(User.active.is_(True), User.id.in_(added_users))))
    return base


def _trained_documents() -> sa.Select:
    """Effective documents of the types that are trained."""
    return (sa.select(Document).where(Document.current_version_id.is_not(None), Document.obsolete_at.is_(None),
                                      Document.doc_type.in_(enabled_types() or ["-"])))


def documents_required_for(user: User) -> list[Document]:
    """The effective documents ``user`` must train on, as the matrix and the rules stand now."""
    if not user.active:
        return []
    process_ids = [p.id for p in processes_for(user.department_id)["R"]] if user.department_id else []
    candidates: dict[int, Document] = {}
    by_department = sa.or_(Document.process_id.in_(process_ids or [-1]),
                           sa.and_(Document.process_id.is_(None), Document.department_id == (user.department_id or -1)))
    for doc in db.session.scalars(_trained_documents().where(by_department)):
        candidates[doc.id] = doc
    rule_docs = db.session.scalars(_trained_documents().join(TrainingRule, TrainingRule.document_id == Document.id)
                                   .where(sa.or_(sa.and_(TrainingRule.kind == ADD_POSITION,
                                                         TrainingRule.position_id == (user.position_id or -1)),
                                                 sa.and_(TrainingRule.kind == ADD_USER, TrainingRule.user_id == user.id))))
    for doc in rule_docs:
        candidates[doc.id] = doc
    if not candidates:
        return []
    rules: dict[int, list[TrainingRule]] = {}
    for rule in db.session.scalars(sa.select(TrainingRule).where(TrainingRule.document_id.in_(list(candidates)))):
        rules.setdefault(rule.document_id, []).append(rule)
    out = []
    for doc in candidates.values():
        doc_rules = rules.get(doc.id, [])
        by_name = any(r.kind == ADD_USER and r.user_id == user.id for r in doc_rules)
        excluded = any(r.kind == EXCLUDE_POSITION and r.position_id == user.position_id for r in doc_rules)
        if by_name or not excluded:
            out.append(doc)
    return sorted(out, key=lambda d: d.code)


# -- writing assignments --------------------------------------------------------------------------
def _insert(rows: list[dict]) -> None:
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(TrainingAssignment).on_conflict_do_nothing(), rows)


def _assign(document: Document, version: DocumentVersion, user_ids: Iterable[int], *, source: str,
            actor=None, today: date | None = None) -> list[int]:
    """Give each of ``user_ids`` a current, open assignment for ``version`` unless they have one for it
    (reopening one closed as not applicable). Returns the ids of the users newly assigned."""
    today = today or local_today()
    due = today + timedelta(days=type_setting(document.doc_type).due_days)
    now = utcnow()
    newly: list[int] = []
    for ids in _chunks(user_ids):
        existing = dict(db.session.execute(
            sa.select(TrainingAssignment.user_id, TrainingAssignment.status)
            .where(TrainingAssignment.version_id == version.id, TrainingAssignment.user_id.in_(ids))).all())
        reopen = [uid for uid, status in existing.items() if status == NOT_APPLICABLE]
        fresh = [uid for uid in ids if uid not in existing]
        if fresh:
            # Older assignments of the document stop being current; open ones are closed as superseded.
            older = sa.and_(TrainingAssignment.document_id == document.id, TrainingAssignment.current == sa.true(),
                            TrainingAssignment.version_id != version.id, TrainingAssignment.user_id.in_(fresh))
            db.session.execute(sa.update(TrainingAssignment).where(older, TrainingAssignment.status == OPEN)
                               .values(status=SUPERSEDED, closed_at=now), execution_options={"synchronize_session": False})
            db.session.execute(sa.update(TrainingAssignment).where(older).values(current=False),
                               execution_options={"synchronize_session": False})
            _insert([dict(user_id=uid, document_id=document.id, version_id=version.id, current=True, status=OPEN,
                          source=source, assigned_at=now, due_on=due, escalation=0, closed_reason="")
                     for uid in fresh])
        if reopen:
            db.session.execute(
                sa.update(TrainingAssignment)
                .where(TrainingAssignment.version_id == version.id, TrainingAssignment.user_id.in_(reopen),
                       TrainingAssignment.status == NOT_APPLICABLE)
                .values(status=OPEN, current=True, due_on=due, assigned_at=now, closed_at=None, closed_by_id=None,
                        closed_reason="", overdue_at=None, escalation=0, source=source),
                execution_options={"synchronize_session": False})
        newly.extend(fresh + reopen)
    if newly:
        db.session.expire_all()
        record("training.assign", version, actor=actor, object_type="sop_version",
               extra={"document_id": document.id, "version": version.label, "count": len(newly), "source": source,
                      "due_on": due.isoformat()})
        title = _("Please read and confirm %(title)s by %(day)s",
                  title=f"{document.code} {document.title} v{version.label}", day=due.isoformat())
        recipients = list(db.session.scalars(sa.select(User).where(User.id.in_(newly[:5000]))))
        notify_many(recipients, KIND_ASSIGNED, title, "", f"{BASE_PATH}/",
                    department_id=document.department_id, dedupe_key=f"training.assigned:{version.id}")
    return newly


def _close_open(where, *, reason: str, actor=None, status: str = NOT_APPLICABLE) -> int:
    """Close the open assignments matching ``where`` (not applicable by default). Returns how many."""
    result = db.session.execute(
        sa.update(TrainingAssignment).where(where, TrainingAssignment.status == OPEN)
        .values(status=status, closed_at=utcnow(), closed_by_id=getattr(actor, "id", None),
                closed_reason=reason[:REASON_MAX]),
        execution_options={"synchronize_session": False})
    if result.rowcount:
        db.session.expire_all()
    return result.rowcount or 0


def reconcile(document: Document, user_ids: Iterable[int] | None = None, *, source: str = SOURCE_RECONCILE,
              actor=None, reason: str = "", known_required: set[int] | None = None) -> tuple[int, int]:
    """Bring ``document``'s assignments in line with who must train on it now, for ``user_ids`` (everyone
    when None): those required without a current assignment get one, those no longer required have their
    open ones closed as not applicable. ``known_required``: who is required, when the caller already knows
    (it spares reading the whole set). Returns (assigned, closed)."""
    version = document.current_version
    trained = (version is not None and version.status == EFFECTIVE and not document.is_obsolete
               and type_setting(document.doc_type).enabled)
    if not trained:
        required_all: set[int] = set()
    else:
        required_all = known_required if known_required is not None else required_user_ids(document)
    scope = None if user_ids is None else set(user_ids)
    required = required_all if scope is None else required_all & scope
    assigned: list[int] = []
    if required:
        # Already covered: a current assignment of this version, or of an earlier one when this version needed
        # no retraining (who knew the earlier version knows this one).
        covered = (sa.true() if not version.retraining_required else TrainingAssignment.version_id == version.id)
        have = set()
        for ids in _chunks(required):
            have |= set(db.session.scalars(sa.select(TrainingAssignment.user_id).where(
                TrainingAssignment.document_id == document.id, TrainingAssignment.current == sa.true(),
                TrainingAssignment.status != NOT_APPLICABLE, covered, TrainingAssignment.user_id.in_(ids))))
        assigned = _assign(document, version, required - have, source=source, actor=actor)
    # Open assignments of people no longer required (of the scope only, when there is one).
    open_query = sa.select(TrainingAssignment.user_id).where(TrainingAssignment.document_id == document.id,
                                                             TrainingAssignment.status == OPEN)
    if scope is None:
        open_ids = set(db.session.scalars(open_query))
    else:
        open_ids = set()
        for ids in _chunks(scope):
            open_ids |= set(db.session.scalars(open_query.where(TrainingAssignment.user_id.in_(ids))))
    leaving = open_ids - required_all
    closed = 0
    for ids in _chunks(leaving):
        closed += _close_open(sa.and_(TrainingAssignment.document_id == document.id,
                                      TrainingAssignment.user_id.in_(ids)),
                              reason=reason or _("No longer required to train on this document."), actor=actor)
    if closed:
        record("training.not_applicable", document, actor=actor, object_type="sop_document",
               extra={"count": closed, "reason": reason or "no longer required"})
    return len(assigned), closed


def reconcile_user(user: User, *, actor=None, source: str = SOURCE_JOINED, reason: str = "") -> tuple[int, int]:
    """One person against every effective document (after a move, a hire, a reactivation)."""
    required = {d.id: d for d in documents_required_for(user)}
    assigned = 0
    for document in required.values():  # each of these requires the person (documents_required_for says so)
        a, _c = reconcile(document, [user.id], source=source, actor=actor, known_required={user.id})
        assigned += a
    leaving = set(db.session.scalars(sa.select(TrainingAssignment.document_id).where(
        TrainingAssignment.user_id == user.id, TrainingAssignment.status == OPEN))) - set(required)
    closed = 0
    if leaving:
        closed = _close_open(sa.and_(TrainingAssignment.user_id == user.id,
                                     TrainingAssignment.document_id.in_(sorted(leaving))),
                             reason=reason or _("No longer required after a change of department or position."),
                             actor=actor)
        record("training.not_applicable", user, actor=actor, object_type="user",
               extra={"count": closed, "documents": sorted(leaving)})
    return assigned, closed


# -- signal subscribers ---------------------------------------------------------------------------
def on_document_effective(version, *, document, superseded=None, actor=None, retraining_required=True,
                          retraining_reason="", **_kwargs) -> None:
    if not type_setting(document.doc_type).enabled:
        return
    if not retraining_required:
        moved = db.session.execute(
            sa.update(TrainingAssignment)
            .where(TrainingAssignment.document_id == document.id, TrainingAssignment.current == sa.true(),
                   TrainingAssignment.status == OPEN, TrainingAssignment.version_id != version.id)
            .values(version_id=version.id), execution_options={"synchronize_session": False}).rowcount or 0
        db.session.expire_all()
        record("training.no_retraining", version, actor=actor, object_type="sop_version",
               extra={"document_id": document.id, "version": version.label, "reason": retraining_reason,
                      "open_moved": moved})
        return
    required = required_user_ids(document)
    _assign(document, version, required, source=SOURCE_EFFECTIVE, actor=actor)
    # People with open assignments of an earlier version who are no longer required.
    stale = set(db.session.scalars(sa.select(TrainingAssignment.user_id).where(
        TrainingAssignment.document_id == document.id, TrainingAssignment.status == OPEN,
        TrainingAssignment.version_id != version.id))) - required
    for ids in _chunks(stale):
        _close_open(sa.and_(TrainingAssignment.document_id == document.id, TrainingAssignment.user_id.in_(ids)),
                    reason=_("No longer required to train on this document."), actor=actor)


def on_user_joined(user, *, actor=None, **_kwargs) -> None:
    reconcile_user(user, actor=actor, source=SOURCE_JOINED)


def on_user_moved(user, *, actor=None, **_kwargs) -> None:
    reconcile_user(user, actor=actor, source=SOURCE_JOINED)


def on_user_deactivated(user, *, actor=None, **_kwargs) -> None:
    closed = _close_open(TrainingAssignment.user_id == user.id, reason=_("The person's account was deactivated."),
                         actor=actor)
    if closed:
        record("training.not_applicable", user, actor=actor, object_type="user",
               extra={"count": closed, "reason": "deactivated"})


def on_matrix_changed(_sender, *, changes, actor=None, **_kwargs) -> None:
    """A department that becomes (or stops being) R for a process: its members against that process's documents."""
    for process_id, department_id, before, after in changes:
        if (before == "R") == (after == "R"):
            continue
        members = list(db.session.scalars(sa.select(User.id).where(User.department_id == department_id)))
        if not members:
            continue
        for document in db.session.scalars(_trained_documents().where(Document.process_id == process_id)):
            reconcile(document, members, source=SOURCE_RECONCILE, actor=actor)


# -- rules on the document page -------------------------------------------------------------------
def _document_for_rules(actor, document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound()
    if not may_manage_document(actor, document):
        raise PermissionDenied()
    return document


def _rule_scope(kind: str, position_id: int | None, user_id: int | None) -> list[int]:
    if kind == ADD_USER:
        return [user_id]
    return list(db.session.scalars(sa.select(User.id).where(User.position_id == position_id)))


def add_rule(actor, document_id: int, kind: str, *, position_id: int | None = None,
             user_id: int | None = None) -> TrainingRule:
    document = _document_for_rules(actor, document_id)
    if kind not in RULE_KINDS:
        raise ServiceError(("kind", _("Choose what the rule does.")))
    if kind == ADD_USER:
        target = db.session.get(User, user_id) if user_id else None
        if target is None or not target.active:
            raise ServiceError(("user_id", _("Choose an active person.")))
        position_id = None
    else:
        position = db.session.get(Position, position_id) if position_id else None
        if position is None or not position.active:
            raise ServiceError(("position_id", _("Choose an active position.")))
        user_id = None
    clash = db.session.scalar(sa.select(TrainingRule).where(
        TrainingRule.document_id == document.id,
        TrainingRule.user_id == user_id if kind == ADD_USER else
        sa.and_(TrainingRule.position_id == position_id, TrainingRule.kind.in_([ADD_POSITION, EXCLUDE_POSITION]))))
    if clash is not None:
        if clash.kind == kind:
            return clash  # a double click: the rule is there
        raise ServiceError(("position_id", _("This position is already added or excluded: remove that rule first.")))
    rule = TrainingRule(document_id=document.id, kind=kind, position_id=position_id, user_id=user_id,
                        created_by_id=actor.id)
    db.session.add(rule)
    db.session.flush()
    record("training.rule_add", rule, actor=actor,
           after={"document_id": document.id, "kind": kind, "position_id": position_id, "user_id": user_id})
    reconcile(document, _rule_scope(kind, position_id, user_id), source=SOURCE_RULE, actor=actor,
              reason=_("Excluded from this document's training."))
    return rule


def remove_rule(actor, document_id: int, rule_id: int) -> None:
    document = _document_for_rules(actor, document_id)
    rule = db.session.get(TrainingRule, rule_id)
    if rule is None or rule.document_id != document.id:
        raise NotFound()
    scope = _rule_scope(rule.kind, rule.position_id, rule.user_id)
    record("training.rule_remove", rule, actor=actor,
           before={"document_id": document.id, "kind": rule.kind, "position_id": rule.position_id,
                   "user_id": rule.user_id})
    db.session.delete(rule)
    db.session.flush()
    reconcile(document, scope, source=SOURCE_RULE, actor=actor)


@dataclass
class Requirements:
    document: Document
    departments: list[Department]
    rules: list[TrainingRule]
    required_count: int
    counts: dict[str, int]


def requirements(document: Document) -> Requirements:
    """What the document page shows: the R departments, the rules, and the assignments of the effective version."""
    dept_ids = required_department_ids(document)
    departments = list(db.session.scalars(sa.select(Department).where(Department.id.in_(dept_ids or [-1]))
                                          .order_by(Department.sort_order, Department.code)))
    counts = dict(db.session.execute(
        sa.select(TrainingAssignment.status, sa.func.count())
        .where(TrainingAssignment.document_id == document.id, TrainingAssignment.current == sa.true())
        .group_by(TrainingAssignment.status)).all())
    return Requirements(document, departments, rules_of(document.id), len(required_user_ids(document)), counts)


# -- one person's assignments ---------------------------------------------------------------------
def my_assignments(user: User, *, include_closed: bool = False) -> list[TrainingAssignment]:
    query = sa.select(TrainingAssignment).where(TrainingAssignment.user_id == user.id)
    if not include_closed:
        query = query.where(TrainingAssignment.status == OPEN)
    query = query.options(sa.orm.joinedload(TrainingAssignment.document), sa.orm.joinedload(TrainingAssignment.version))
    return list(db.session.scalars(query.order_by(TrainingAssignment.status != OPEN, TrainingAssignment.due_on,
                                                  TrainingAssignment.id.desc()).limit(500)))


def get_assignment(actor, assignment_id: int) -> TrainingAssignment:
    """An assignment its holder, their department's head or a manager may see (else 404)."""
    assignment = db.session.get(TrainingAssignment, assignment_id)
    if assignment is None or not active_user(actor):
        raise NotFound()
    if assignment.user_id != actor.id and not may_oversee(actor, assignment.user.department_id):
        raise NotFound()
    return assignment


def _own_open(actor, assignment_id: int) -> TrainingAssignment:
    assignment = get_assignment(actor, assignment_id)
    if assignment.user_id != actor.id:
        raise PermissionDenied()  # nobody signs or answers for someone else
    if assignment.status != OPEN:
        raise ServiceError((None, _("This training is already closed (%(status)s).", status=assignment.status_label)))
    return assignment


def mark_opened(actor, assignment_id: int) -> TrainingAssignment:
    """The holder opened the document: the first time is recorded (and audited), later ones change nothing."""
    assignment = get_assignment(actor, assignment_id)
    if assignment.user_id != actor.id or assignment.first_opened_at is not None:
        return assignment
    now = utcnow()
    changed = db.session.execute(
        sa.update(TrainingAssignment).where(TrainingAssignment.id == assignment.id,
                                            TrainingAssignment.first_opened_at.is_(None))
        .values(first_opened_at=now), execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(assignment)
    if changed:
        record("training.open", assignment, actor=actor, after={"first_opened_at": now.isoformat()})
    return assignment


# -- quizzes --------------------------------------------------------------------------------------
def quiz_of(version_id: int) -> Quiz | None:
    return db.session.scalar(sa.select(Quiz).where(Quiz.version_id == version_id))


def passed_quiz(assignment: TrainingAssignment) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(QuizAttempt).where(
        QuizAttempt.assignment_id == assignment.id, QuizAttempt.passed.is_(True))) > 0


def attempts_of(assignment: TrainingAssignment) -> list[QuizAttempt]:
    return list(db.session.scalars(sa.select(QuizAttempt).where(QuizAttempt.assignment_id == assignment.id)
                                   .order_by(QuizAttempt.id)))


QUESTION_MAX, OPTION_MAX, QUESTIONS_MAX = 500, 200, 50


def parse_quiz_text(text: str) -> list[tuple[str, list[str], int]]:
    """The quiz editor's text: questions separated by a blank line; a question's first line is the question,
    each following line a choice starting with ``-`` (wrong) or ``*`` (right, exactly one)."""
    questions, errors = [], []
    blocks = [b.strip() for b in (text or "").replace("\r\n", "\n").split("\n\n") if b.strip()]
    for number, block in enumerate(blocks, start=1):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        question, options, correct = lines[0], [], []
        for line in lines[1:]:
            if line[:1] not in ("-", "*", "－", "＊"):
                errors.append(_("Question %(n)d: each choice starts with - (wrong) or * (right).", n=number))
                break
            if line[:1] in ("*", "＊"):
                correct.append(len(options))
            options.append(line[1:].strip()[:OPTION_MAX])
        else:
            if not 2 <= len(options) <= 6:
                errors.append(_("Question %(n)d needs 2 to 6 choices.", n=number))
            elif len(correct) != 1:
                errors.append(_("Question %(n)d needs exactly one right choice, marked with *.", n=number))
            elif any(not o for o in options):
                errors.append(_("Question %(n)d has an empty choice.", n=number))
            else:
                questions.append((question[:QUESTION_MAX], options, correct[0]))
    if len(blocks) > QUESTIONS_MAX:
        errors.append(_("At most %(n)d questions.", n=QUESTIONS_MAX))
    if errors:
        raise ServiceError(*[("questions", e) for e in errors])
    return questions


def quiz_text(quiz: Quiz | None) -> str:
    if quiz is None:
        return ""
    return "\n\n".join(q.text + "\n" + "\n".join(("* " if i == q.correct else "- ") + o for i, o in enumerate(q.options))
                       for q in quiz.questions)


def quiz_editor(actor, version_id: int) -> tuple[Quiz | None, DocumentVersion]:
    """(the quiz or None, the version) for someone who may edit it: managers and the owning head."""
    version = db.session.get(DocumentVersion, version_id)
    if version is None or version.document.is_external:
        raise NotFound()
    if not may_manage_document(actor, version.document):
        raise PermissionDenied()
    return quiz_of(version.id), version


def save_quiz(actor, version_id: int, *, text: str, pass_mark: int | None) -> Quiz | None:
    """Create, replace or (with no questions) remove a version's quiz. Refused once someone has answered it."""
    _quiz, version = quiz_editor(actor, version_id)
    if pass_mark is None or not 1 <= pass_mark <= 100:
        raise ServiceError(("pass_mark", _("Enter a pass mark between 1 and 100 per cent.")))
    questions = parse_quiz_text(text)
    quiz = quiz_of(version.id)
    if quiz is not None and db.session.scalar(sa.select(sa.func.count()).select_from(QuizAttempt)
                                              .where(QuizAttempt.quiz_id == quiz.id)):
        raise ServiceError((None, _("Someone has already answered this quiz: it can no longer change.")))
    before = {"questions": len(quiz.questions), "pass_mark": quiz.pass_mark} if quiz is not None else None
    if not questions:
        if quiz is not None:
            db.session.delete(quiz)
            db.session.flush()
            record("training.quiz_remove", actor=actor, object_type="sop_version", object_id=version.id, before=before)
        return None
    if quiz is None:
        quiz = Quiz(version_id=version.id, created_by_id=actor.id)
        db.session.add(quiz)
    quiz.pass_mark, quiz.updated_at = pass_mark, utcnow()
    quiz.questions = [QuizQuestion(position=i, text=t, options=o, correct=c) for i, (t, o, c) in enumerate(questions)]
    db.session.flush()
    record("training.quiz_save", actor=actor, object_type="sop_version", object_id=version.id, before=before,
           after={"questions": len(questions), "pass_mark": pass_mark})
    return quiz


def submit_quiz(actor, assignment_id: int, answers: dict[int, int | None], *, request_key: str = "") -> QuizAttempt:
    """Score an attempt (every attempt is kept). ``answers``: question id → chosen index."""
    assignment = _own_open(actor, assignment_id)
    if request_key:
        earlier = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.request_key == request_key[:64]))
        if earlier is not None and earlier.assignment_id == assignment.id:
            return earlier
    quiz = quiz_of(assignment.version_id)
    if quiz is None or not quiz.questions:
        raise ServiceError((None, _("This version has no quiz.")))
    missing = [q for q in quiz.questions if answers.get(q.id) is None]
    if missing:
        raise ServiceError((None, _("Answer every question (%(n)d left).", n=len(missing))))
    right = sum(1 for q in quiz.questions if answers.get(q.id) == q.correct)
    score = right * 100 // len(quiz.questions)
    attempt = QuizAttempt(assignment_id=assignment.id, quiz_id=quiz.id, score=score, passed=score >= quiz.pass_mark,
                          answers=[answers.get(q.id) for q in quiz.questions], request_key=request_key[:64] or None)
    db.session.add(attempt)
    db.session.flush()
    record("training.quiz_attempt", attempt, actor=actor,
           extra={"assignment_id": assignment.id, "score": score, "passed": attempt.passed,
                  "pass_mark": quiz.pass_mark})
    return attempt


# -- the sign-off ---------------------------------------------------------------------------------
@dataclass
class SignOff:
    assignment: TrainingAssignment
    signed: bool  # False: it was already signed (a double submit)


def _claim(assignment_id: int, now, **values):
    def claim() -> bool:
        return bool(db.session.execute(
            sa.update(TrainingAssignment).where(TrainingAssignment.id == assignment_id,
                                                TrainingAssignment.status == OPEN)
            .values(status=DONE, completed_at=now, **values),
            execution_options={"synchronize_session": False}).rowcount)
    return claim


def sign_off(actor, assignment_id: int, *, password: str = "", understood: bool = False) -> SignOff:
    """已阅读并理解: the holder confirms, with the password again when the document type asks for it, after
    opening the document and passing the version's quiz when it has one. A second submit signs nothing."""
    assignment = get_assignment(actor, assignment_id)
    if assignment.user_id != actor.id:
        raise PermissionDenied()
    if assignment.status == DONE:
        return SignOff(assignment, False)
    assignment = _own_open(actor, assignment_id)
    errors = []
    if not understood:
        errors.append(("understood", _("Tick the box to confirm that you have read and understood the document.")))
    if assignment.first_opened_at is None:
        errors.append((None, _("Open and read the document first.")))
    quiz = quiz_of(assignment.version_id)
    if quiz is not None and quiz.questions and not passed_quiz(assignment):
        errors.append((None, _("Pass the quiz first (pass mark %(mark)d%%).", mark=quiz.pass_mark)))
    if errors:
        raise ServiceError(*errors)
    now = utcnow()
    version = assignment.version
    if type_setting(assignment.document.doc_type).require_password:
        holder: dict = {}

        def claim() -> bool:
            holder["ok"] = _claim(assignment.id, now, completed_by=BY_SIGNOFF)()
            return holder["ok"]

        signature = sign_if(actor, password, READ_UNDERSTOOD, object_type=SIGNATURE_OBJECT, object_id=assignment.id,
                            content_sha256=version.content_sha256, claim=claim)
        if signature is not None:
            db.session.execute(sa.update(TrainingAssignment).where(TrainingAssignment.id == assignment.id)
                               .values(signature_id=signature.id), execution_options={"synchronize_session": False})
        signed = signature is not None
    else:
        signed = _claim(assignment.id, now, completed_by=BY_SIGNOFF)()
    db.session.refresh(assignment)
    if signed:
        record("training.signoff", assignment, actor=actor,
               after={"status": DONE, "version": version.label, "content_sha256": version.content_sha256},
               extra={"signature_id": assignment.signature_id})
    return SignOff(assignment, signed)


# -- waivers --------------------------------------------------------------------------------------
def waive(actor, assignment_id: int, reason: str) -> TrainingAssignment:
    """The department head (or a manager) waives an open assignment, with a reason."""
    assignment = get_assignment(actor, assignment_id)
    if not may_oversee(actor, assignment.user.department_id) or assignment.user_id == actor.id and not is_manager(actor):
        raise PermissionDenied()
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(("reason", _("Give the reason for the waiver.")))
    if len(reason) > REASON_MAX:
        raise ServiceError(("reason", _("At most %(n)d characters.", n=REASON_MAX)))
    if assignment.status != OPEN:
        raise ServiceError((None, _("This training is already closed (%(status)s).", status=assignment.status_label)))
    closed = _close_open(TrainingAssignment.id == assignment.id, reason=reason, actor=actor, status=WAIVED)
    db.session.refresh(assignment)
    if closed:
        record("training.waive", assignment, actor=actor, before={"status": OPEN}, after={"status": WAIVED},
               extra={"reason": reason, "user_id": assignment.user_id})
    return assignment


