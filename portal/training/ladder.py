"""Overdue training: the escalation ladder (逾期升级), the digest sections 我的培训 and 本部门逾期培训, the to-dos,
and the completion-rate KPI (per department, for quality objectives and the matrix page).

**The ladder** (``run_ladder``, the daily job ``training_overdue_ladder`` at 07:30 Asia/Shanghai):

1. open assignments of documents that went obsolete (``obsolete_at`` set, or no effective version any more) are
   closed as not applicable, one audit event per document;
2. open assignments past their due date are marked overdue (``overdue_at``), on any day;
3. on working days only (``portal.workcal``), each assignment climbs the ladder, one step at a time and each step
   once (``escalation``, claimed by a conditional UPDATE, so a second run or a racing one sends nothing twice):

   * step 1 (``LADDER_EMPLOYEE``): overdue at all — the holder is told (one notification per person and day);
   * step 2 (``LADDER_HEAD``): ``PORTAL_TRAINING_ESCALATE_HEAD_DAYS`` (3) working days overdue — the head of the
     holder's department is told how many of their people's assignments reached it (one per department and day);
   * step 3 (``LADDER_QM``): ``PORTAL_TRAINING_ESCALATE_QM_DAYS`` (10) working days overdue — every active
     quality manager is told, with the count per department (one per day).

   *Working days overdue* on ``today``: the calendar's working days after the due date up to and including
   ``today``. On a holiday or a weekend the ladder sends nothing; the steps that came due meanwhile fire on the
   next working day (an assignment that reached several thresholds gets each step once, in order).

A run that changed anything writes one audit event ``training.ladder`` with its counts.

**Completion rate** (``completion_counts``, ``completion_rate``): see ``completion_counts``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import aliased

from portal.audit.registry import register_action_labels
from portal.audit.services import record
from portal.core.i18n import portal_tz
from portal.core.registry import register_cron
from portal.core.roles import QUALITY_MANAGER
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.services import active_users_with_role
from portal.home.registry import TodoItem, register_todo_provider
from portal.notify.registry import DigestItem, register_digest_section, register_kind
from portal.notify.services import notify_many
from portal.objectives.registry import register_metric
from portal.org.models import Department, User
from portal.sop.models import Document, DocumentVersion
from portal.training import services
from portal.training.models import (DONE, LADDER_EMPLOYEE, LADDER_HEAD, LADDER_QM, NOT_APPLICABLE, OPEN, SUPERSEDED,
                                    WAIVED, TrainingAssignment)
from portal.workcal.services import WorkCalendar, local_today

KIND_OVERDUE = "training.overdue"
KIND_ESCALATED = "training.overdue_escalated"
METRIC_KEY = "training.completion_rate"
DEFAULT_HEAD_DAYS, DEFAULT_QM_DAYS = 3, 10
MATRIX_PATH = f"{services.BASE_PATH}/matrix"
#: Items of one digest section for one person, at most (a last item says how many more).
DIGEST_MAX = 20


def overdue_matrix_path(department_id: int | None = None) -> str:
    return f"{MATRIX_PATH}?dept={department_id}&status=overdue" if department_id else f"{MATRIX_PATH}?status=overdue"


def escalation_days() -> tuple[int, int]:
    """(head, quality managers): working days overdue before each hears of it; the managers never before the head."""
    head = max(1, int(current_app.config.get("PORTAL_TRAINING_ESCALATE_HEAD_DAYS", DEFAULT_HEAD_DAYS)))
    qm = max(head, int(current_app.config.get("PORTAL_TRAINING_ESCALATE_QM_DAYS", DEFAULT_QM_DAYS)))
    return head, qm


def overdue_cutoff(today: date, working_days: int, calendar: WorkCalendar | None = None) -> date:
    """The due dates before the returned day are at least ``working_days`` working days overdue on ``today``:
    it is the ``working_days``-th working day counting back from ``today`` (included)."""
    calendar = calendar or WorkCalendar()
    seen, day = 0, today
    for _day in range(3660):  # ten years: a guard against a calendar with no working days
        if calendar.is_workday(day):
            seen += 1
            if seen >= working_days:
                return day
        day -= timedelta(days=1)
    return date.min


def working_days_overdue(due_on: date, today: date, calendar: WorkCalendar | None = None) -> int:
    """The working days after ``due_on`` up to and including ``today`` (0 when not past due)."""
    calendar = calendar or WorkCalendar()
    days, day = 0, due_on + timedelta(days=1)
    while day <= today:
        days += calendar.is_workday(day)
        day += timedelta(days=1)
    return days


# -- the ladder -----------------------------------------------------------------------------------
def close_obsolete_assignments() -> int:
    """Open assignments of documents that are obsolete or have no effective version: not applicable (audited
    per document). Returns how many were closed."""
    gone = sa.or_(Document.obsolete_at.is_not(None), Document.current_version_id.is_(None))
    per_document = db.session.execute(
        sa.select(TrainingAssignment.document_id, sa.func.count())
        .join(Document, Document.id == TrainingAssignment.document_id)
        .where(TrainingAssignment.status == OPEN, gone).group_by(TrainingAssignment.document_id)).all()
    closed = 0
    for document_id, _count in per_document:
        n = services._close_open(TrainingAssignment.document_id == document_id,
                                 reason=_("The document is obsolete or no longer in effect."))
        if n:
            record("training.not_applicable", actor=None, object_type="sop_document", object_id=document_id,
                   extra={"count": n, "reason": "document obsolete"})
        closed += n
    return closed


def mark_overdue(today: date) -> int:
    """Open assignments due before ``today`` get ``overdue_at`` (once). Returns how many."""
    result = db.session.execute(
        sa.update(TrainingAssignment)
        .where(TrainingAssignment.status == OPEN, TrainingAssignment.due_on < today,
               TrainingAssignment.overdue_at.is_(None))
        .values(overdue_at=utcnow()), execution_options={"synchronize_session": False})
    return result.rowcount or 0


@dataclass(frozen=True)
class Climbed:
    """An assignment that just reached a step of the ladder."""

    id: int
    user_id: int
    document_id: int
    due_on: date


def _climb(step: int, due_before: date) -> list[Climbed]:
    """Claim ``step`` for the open assignments due before ``due_before`` that have not reached it yet."""
    rows = db.session.execute(
        sa.update(TrainingAssignment)
        .where(TrainingAssignment.status == OPEN, TrainingAssignment.escalation < step,
               TrainingAssignment.due_on < due_before)
        .values(escalation=step)
        .returning(TrainingAssignment.id, TrainingAssignment.user_id, TrainingAssignment.document_id,
                   TrainingAssignment.due_on),
        execution_options={"synchronize_session": False}).all()
    return sorted((Climbed(*row) for row in rows), key=lambda c: c.id)


def _titles(document_ids) -> dict[int, str]:
    ids = sorted(set(document_ids))
    rows = db.session.execute(sa.select(Document.id, Document.code, Document.title).where(Document.id.in_(ids or [-1])))
    return {r.id: f"{r.code} {r.title}" for r in rows}


def _users(user_ids) -> dict[int, User]:
    ids = sorted(set(user_ids))
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids or [-1])))}


def _notify_holders(climbed: list[Climbed], today: date) -> int:
    by_user: dict[int, list[Climbed]] = defaultdict(list)
    for item in climbed:
        by_user[item.user_id].append(item)
    titles, users = _titles(c.document_id for c in climbed), _users(by_user)
    sent = 0
    for user_id, items in by_user.items():
        if len(items) == 1:
            item = items[0]
            title = _("Training overdue: %(title)s (due %(day)s)", title=titles.get(item.document_id, ""),
                      day=item.due_on.isoformat())
            link = services.assignment_path(item.id)
        else:
            title = _("%(n)d of your trainings are overdue", n=len(items))
            link = f"{services.BASE_PATH}/"
        body = "\n".join(titles.get(i.document_id, "") for i in items)
        sent += len(notify_many([users.get(user_id)], KIND_OVERDUE, title, body, link,
                                dedupe_key=f"training.overdue:{user_id}:{today.isoformat()}"))
    return sent


def _by_department(climbed: list[Climbed]) -> dict[int | None, tuple[int, set[int]]]:
    """department id → (assignments, the people holding them), by the holders' current departments."""
    departments = dict(db.session.execute(
        sa.select(User.id, User.department_id).where(User.id.in_(sorted({c.user_id for c in climbed}) or [-1]))).all())
    out: dict[int | None, tuple[int, set[int]]] = {}
    for item in climbed:
        count, people = out.get(departments.get(item.user_id), (0, set()))
        people.add(item.user_id)
        out[departments.get(item.user_id)] = (count + 1, people)
    return out


def _notify_heads(climbed: list[Climbed], today: date, days: int) -> int:
    grouped = _by_department(climbed)
    departments = db.session.scalars(sa.select(Department).where(Department.id.in_(
        sorted(d for d in grouped if d is not None) or [-1]))).all()
    heads = _users(d.head_id for d in departments if d.head_id)
    sent = 0
    for department in departments:
        head = heads.get(department.head_id)
        if head is None:
            continue
        count, people = grouped[department.id]
        title = _("Overdue training in %(department)s: %(count)d trainings of %(people)d people are %(days)d or more "
                  "working days late", department=department.name, count=count, people=len(people), days=days)
        sent += len(notify_many([head], KIND_ESCALATED, title, "", overdue_matrix_path(department.id),
                                department_id=department.id,
                                dedupe_key=f"training.overdue.head:{department.id}:{today.isoformat()}"))
    return sent


def quality_managers() -> list[User]:
    return active_users_with_role(QUALITY_MANAGER)


def _notify_quality_managers(climbed: list[Climbed], today: date, days: int) -> int:
    grouped = _by_department(climbed)
    names = dict(db.session.execute(sa.select(Department.id, Department.name).where(
        Department.id.in_(sorted(d for d in grouped if d is not None) or [-1]))).all())
    people = set().union(*(p for _c, p in grouped.values()))
    title = _("Overdue training: %(count)d trainings of %(people)d people are %(days)d or more working days late",
              count=len(climbed), people=len(people), days=days)
    body = "\n".join(f"{names.get(d, _('No department'))}: {count}"
                     for d, (count, _p) in sorted(grouped.items(), key=lambda kv: names.get(kv[0], "")))
    return len(notify_many(quality_managers(), KIND_ESCALATED, title, body, overdue_matrix_path(),
                           dedupe_key=f"training.overdue.qm:{today.isoformat()}"))


def run_ladder(today: date | None = None) -> dict:
    """The daily job's work (see the module's docstring); flushes, never commits. Returns its counts."""
    today = today or local_today()
    calendar = WorkCalendar()
    result = {"closed_obsolete": close_obsolete_assignments(), "marked_overdue": mark_overdue(today),
              "employee": 0, "head": 0, "quality_manager": 0, "workday": calendar.is_workday(today)}
    if result["workday"]:
        head_days, qm_days = escalation_days()
        climbed = _climb(LADDER_EMPLOYEE, today)
        _notify_holders(climbed, today)
        result["employee"] = len(climbed)
        climbed = _climb(LADDER_HEAD, overdue_cutoff(today, head_days, calendar))
        _notify_heads(climbed, today, head_days)
        result["head"] = len(climbed)
        climbed = _climb(LADDER_QM, overdue_cutoff(today, qm_days, calendar))
        if climbed:
            _notify_quality_managers(climbed, today, qm_days)
        result["quality_manager"] = len(climbed)
    db.session.expire_all()  # the UPDATEs went around the session
    if any(v for k, v in result.items() if k != "workday"):
        record("training.ladder", actor=None, extra={**result, "day": today.isoformat()})
    db.session.flush()
    return result


# -- digest sections ------------------------------------------------------------------------------
def _more(n: int) -> DigestItem:
    return DigestItem(title=_("… and %(n)d more", n=n), link=f"{services.BASE_PATH}/")


def _due_detail(due_on: date, day: date) -> str:
    if due_on < day:
        return _("Overdue since %(day)s", day=due_on.isoformat())
    return _("Due by %(day)s", day=due_on.isoformat())


def _open_rows(where):
    """Open assignments matching ``where`` with their document and version, overdue first, then by due date."""
    return db.session.execute(
        sa.select(TrainingAssignment.id, TrainingAssignment.user_id, TrainingAssignment.due_on, Document.code,
                  Document.title, DocumentVersion.major, DocumentVersion.minor, User.display_name,
                  User.department_id)
        .join(Document, Document.id == TrainingAssignment.document_id)
        .join(DocumentVersion, DocumentVersion.id == TrainingAssignment.version_id)
        .join(User, User.id == TrainingAssignment.user_id)
        .where(TrainingAssignment.status == OPEN, where)
        .order_by(TrainingAssignment.due_on, TrainingAssignment.id)).all()


def _label(row) -> str:
    return f"{row.code} {row.title} v{row.major}.{row.minor}"


def _cap(items: list[DigestItem]) -> list[DigestItem]:
    return items if len(items) <= DIGEST_MAX else items[:DIGEST_MAX] + [_more(len(items) - DIGEST_MAX)]


def digest_my_trainings(users, day: date) -> dict[int, list[DigestItem]]:
    """我的培训: each user's open assignments, overdue first (the earliest due date first). One query per batch."""
    ids = [u.id for u in users]
    out: dict[int, list[DigestItem]] = defaultdict(list)
    for row in _open_rows(TrainingAssignment.user_id.in_(ids or [-1])):
        out[row.user_id].append(DigestItem(title=_label(row), link=services.assignment_path(row.id),
                                           detail=_due_detail(row.due_on, day)))
    return {uid: _cap(items) for uid, items in out.items()}


def digest_department_overdue(users, day: date) -> dict[int, list[DigestItem]]:
    """本部门逾期培训: for the heads among ``users``, the overdue assignments of the people in the departments they
    head (active departments). Two queries per batch."""
    ids = [u.id for u in users]
    heads: dict[int, list[int]] = defaultdict(list)  # department → its head
    for dept_id, head_id in db.session.execute(sa.select(Department.id, Department.head_id).where(
            Department.head_id.in_(ids or [-1]), Department.active.is_(True))):
        heads[dept_id].append(head_id)
    if not heads:
        return {}
    out: dict[int, list[DigestItem]] = defaultdict(list)
    for row in _open_rows(sa.and_(TrainingAssignment.due_on < day, User.department_id.in_(list(heads)))):
        item = DigestItem(title=f"{row.display_name}: {_label(row)}", link=services.assignment_path(row.id),
                          detail=_due_detail(row.due_on, day))
        for head_id in heads[row.department_id]:
            out[head_id].append(item)
    return {uid: _cap(items) for uid, items in out.items()}


# -- to-dos ---------------------------------------------------------------------------------------
def _my_todos(user) -> list[TodoItem]:
    if not user.active:
        return []
    today = local_today()
    return [TodoItem(title=_("Read and confirm %(title)s", title=_label(row)), url=services.assignment_path(row.id),
                     category=_("Training"), detail=_due_detail(row.due_on, today), urgent=row.due_on < today)
            for row in _open_rows(TrainingAssignment.user_id == user.id)]


def overdue_counts(department_ids, today: date | None = None) -> dict[int, int]:
    """department id → open assignments past due of its (current) members, for ``department_ids``."""
    today = today or local_today()
    return dict(db.session.execute(
        sa.select(User.department_id, sa.func.count(TrainingAssignment.id))
        .join(User, User.id == TrainingAssignment.user_id)
        .where(TrainingAssignment.status == OPEN, TrainingAssignment.due_on < today,
               User.department_id.in_(list(department_ids) or [-1]))
        .group_by(User.department_id)).all())


def _head_todos(user) -> list[TodoItem]:
    if not user.active:
        return []
    departments = dict(db.session.execute(sa.select(Department.id, Department.name).where(
        Department.head_id == user.id, Department.active.is_(True))).all())
    if not departments:
        return []
    counts = overdue_counts(departments)
    return [TodoItem(title=_("%(department)s: %(n)d overdue trainings", department=departments[d], n=n),
                     url=overdue_matrix_path(d), category=_("Training"), urgent=True)
            for d, n in sorted(counts.items(), key=lambda kv: departments[kv[0]]) if n]


# -- the completion rate --------------------------------------------------------------------------
def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, portal_tz())


def completion_counts(end_day: date, department_id: int | None = None, *,
                      by_department: bool = False) -> dict[int | None, tuple[int, int]]:
    """(done, open) of the assignments current at the end of ``end_day`` (a local day), per department of the
    holder (``by_department``) or all together (key None); only ``department_id``'s members when given.

    Precisely: for each person and document, the assignment current at that moment is their latest one assigned
    before it. It counts as **done** when completed before that moment; it is **excluded** when it was waived,
    closed as not applicable or superseded before that moment; otherwise it counts as **open** (also when it was
    completed or closed later). People count in their department as it is now (the portal keeps no history of
    moves), inactive ones included (their done assignments stay; deactivation closes the open ones)."""
    end = _end_of(end_day)
    newer = aliased(TrainingAssignment)
    current_then = ~sa.exists().where(newer.user_id == TrainingAssignment.user_id,
                                      newer.document_id == TrainingAssignment.document_id,
                                      newer.id > TrainingAssignment.id, newer.assigned_at < end)
    done = sa.and_(TrainingAssignment.status == DONE, TrainingAssignment.completed_at < end)
    closed = sa.and_(TrainingAssignment.status.in_([WAIVED, NOT_APPLICABLE, SUPERSEDED]),
                     TrainingAssignment.closed_at < end)
    key = User.department_id if by_department else sa.literal(None)
    query = (sa.select(key, sa.func.sum(sa.case((done, 1), else_=0)),
                       sa.func.sum(sa.case((done, 0), else_=1)))
             .join(User, User.id == TrainingAssignment.user_id)
             .where(TrainingAssignment.assigned_at < end, current_then, ~closed))
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if by_department:
        query = query.group_by(User.department_id)
    return {k: (int(d or 0), int(o or 0)) for k, d, o in db.session.execute(query) if (d or 0) + (o or 0)}


def _rate(done: int, open_: int) -> float | None:
    return round(done * 100 / (done + open_), 2) if done + open_ else None


def completion_rate(period_start: date, period_end: date, department_id: int | None = None) -> float | None:
    """Objective metric (per department): done ÷ (done + open) × 100 of the assignments current at the end of
    ``period_end``, as ``completion_counts`` defines them — of ``department_id``'s members, or everyone's when
    None; None when there are none. ``period_start`` does not matter: the rate is a state at the period's end."""
    done, open_ = completion_counts(period_end, department_id).get(None, (0, 0))
    return _rate(done, open_)


@dataclass(frozen=True)
class DepartmentCompletion:
    department_id: int | None
    name: str
    done: int
    open: int

    @property
    def rate(self) -> float | None:
        return _rate(self.done, self.open)


def completion_by_department(day: date | None = None) -> list[DepartmentCompletion]:
    """The completion of every department with assignments, as of the end of ``day`` (today), for the matrix
    page: in the departments' order, people without a department last. Two queries."""
    counts = completion_counts(day or local_today(), by_department=True)
    departments = db.session.execute(sa.select(Department.id, Department.name).where(
        Department.id.in_([d for d in counts if d is not None] or [-1]))
        .order_by(Department.sort_order, Department.code)).all()
    out = [DepartmentCompletion(d.id, d.name, *counts[d.id]) for d in departments]
    if None in counts:
        out.append(DepartmentCompletion(None, _("No department"), *counts[None]))
    return out


def register() -> None:
    """Register what this part contributes (called from hooks.setup())."""
    from portal.training import jobs

    register_kind(KIND_OVERDUE, _l("My overdue trainings"))
    register_kind(KIND_ESCALATED, _l("Overdue trainings of my department or the company"))
    register_digest_section("training.mine", _l("My training"), digest_my_trainings, order=40)
    register_digest_section("training.department_overdue", _l("Overdue training in my department"),
                            digest_department_overdue, order=41)
    register_todo_provider("training.mine", _my_todos, order=40)
    register_todo_provider("training.department_overdue", _head_todos, order=41)
    register_metric(METRIC_KEY, _l("Training completion rate of the department (%)"), completion_rate,
                    per_department=True)
    register_cron("training_overdue_ladder", jobs.overdue_ladder, cron="30 7 * * *")
    register_action_labels({
        "training.ladder": lazy_pgettext("audit action", "Ran the overdue-training ladder"),
    })
