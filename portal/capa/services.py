"""CAPA rules: opening one (from a ticket, an incident, a missed objective, or by hand), the root cause, actions,
the effectiveness check and the signed closure.

* **Who**: managers (quality managers, administrators) open and edit any CAPA; a department head those of their
  department; an action's owner marks it done; only a quality manager closes, with an e-signature.
* **Effectiveness** (``run_check``): once every action is done, the day of the last one is ``implemented_on``;
  from ``implemented_on + 30 days`` the check compares the CSAT (ratings 4–5 ÷ all ratings, spam and ratings whose
  appeal was upheld left out) of the CAPA's point — or its department when it names no point — over the 30 days
  before ``implemented_on`` with the 30 days from it. Effective when the share after is at least the share
  before; with fewer than ``MIN_RATINGS`` ratings in either window the result is 样本不足 (insufficient), which is
  not a result: the CAPA cannot close on it.
* **Closure** (``close``): refused while an action is open or without an effectiveness result; signed by a
  quality manager (password again, meaning 关闭纠正预防措施).

Functions take the acting user, check permissions, flush but never commit, and audit every state change.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record
from portal.capa.models import (ACTION_DONE, ACTION_OPEN, BY_HAND, CAUSES, CHECKING, CLOSED, EFFECTIVE, INSUFFICIENT,
                                NOT_EFFECTIVE, OPEN, SOURCES, Capa, CapaAction)
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.i18n import portal_tz
from portal.core.roles import QUALITY_MANAGER
from portal.core.types import utcnow
from portal.esign.services import content_hash, sign_if
from portal.extensions import db
from portal.feedback.services import satisfaction
from portal.org.models import Department, User
from portal.org.services import headed_department_ids, heads_department, is_active_user, is_manager
from portal.triage.services import upheld_feedback_ids
from portal.workcal.services import local_today

CHECK_DAYS = 30
MIN_RATINGS = 5
TEXT_MAX, TITLE_MAX, WHYS_MAX = 5000, 200, 5
CLOSE_MEANING = "capa_close"


BASE_PATH = "/capa"


def capa_path(capa_id: int) -> str:
    """A CAPA's page, also outside a request (the jobs' notifications, panels built in tests)."""
    return f"{BASE_PATH}/{capa_id}"


def new_path(source: str, source_id: int) -> str:
    """The new-CAPA form prefilled from a source item."""
    return f"{BASE_PATH}/new?source={source}&source_id={source_id}"


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


# -- who ------------------------------------------------------------------------------------------
def may_edit(user, capa: Capa) -> bool:
    return is_manager(user) or heads_department(user, capa.department_id)


def may_see(user, capa: Capa) -> bool:
    return may_edit(user, capa) or (is_active_user(user) and (
        user.department_id == capa.department_id or any(a.owner_id == user.id for a in capa.actions)))


def get_capa(actor, capa_id: int) -> Capa:
    capa = db.session.get(Capa, capa_id)
    if capa is None or not may_see(actor, capa):
        raise NotFound()
    return capa


def get_action(actor, capa_id: int, action_id: int) -> CapaAction:
    """An action of a CAPA the actor may see (NotFound for another CAPA's action)."""
    capa = get_capa(actor, capa_id)
    action = db.session.get(CapaAction, action_id)
    if action is None or action.capa_id != capa.id:
        raise NotFound()
    return action


# -- opening --------------------------------------------------------------------------------------
@dataclass
class CapaFields:
    title: str
    problem: str
    department_id: int | None
    containment: str = ""
    service_point_id: int | None = None
    source: str = BY_HAND
    source_id: int | None = None


def _text(value: str, field: str, limit: int, required: str | None = None) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError((field, required))
    if len(value) > limit:
        raise ServiceError((field, _("At most %(n)d characters.", n=limit)))
    return value


def open_capa(actor, fields: CapaFields, *, request_key: str = "") -> Capa:
    """Open a CAPA. One per source item: opening it again (a double click, a second person) returns the first."""
    if request_key:
        earlier = db.session.scalar(sa.select(Capa).where(Capa.request_key == request_key[:64]))
        if earlier is not None:
            return earlier
    if fields.source not in SOURCES or (fields.source != BY_HAND) != (fields.source_id is not None):
        raise ServiceError(("source", _("Choose what the corrective action comes from.")))
    if fields.source_id is not None:
        earlier = db.session.scalar(sa.select(Capa).where(Capa.source == fields.source,
                                                          Capa.source_id == fields.source_id))
        if earlier is not None:
            return earlier
    dept = db.session.get(Department, fields.department_id) if fields.department_id else None
    if dept is None or not dept.active:
        raise ServiceError(("department_id", _("Choose an active department.")))
    if not (is_manager(actor) or heads_department(actor, dept.id)):
        raise PermissionDenied()
    capa = Capa(title=_text(fields.title, "title", TITLE_MAX, _("Give the corrective action a title.")),
                problem=_text(fields.problem, "problem", TEXT_MAX, _("Describe the problem.")),
                containment=_text(fields.containment, "containment", TEXT_MAX), department_id=dept.id,
                service_point_id=fields.service_point_id, source=fields.source, source_id=fields.source_id,
                created_by_id=actor.id, request_key=request_key[:64] or None)
    try:
        with db.session.begin_nested():  # a twin request (another connection) may have inserted it first
            db.session.add(capa)
    except IntegrityError:
        twin = db.session.scalar(sa.select(Capa).where(sa.or_(
            Capa.request_key == capa.request_key if capa.request_key else sa.false(),
            sa.and_(Capa.source == capa.source, Capa.source_id == capa.source_id)
            if capa.source_id is not None else sa.false())))
        if twin is None:
            raise
        return twin
    record("capa.open", capa, actor=actor, after={"title": capa.title, "source": capa.source,
                                                  "source_id": capa.source_id, "department_id": capa.department_id})
    return capa


def set_root_cause(actor, capa_id: int, *, whys: list[str], category: str | None) -> Capa:
    """The 5 whys (one to five, in order) and the 人机料法环测 category."""
    capa = get_capa(actor, capa_id)
    if not may_edit(actor, capa):
        raise PermissionDenied()
    if capa.status == CLOSED:
        raise ServiceError((None, _("This corrective action is closed.")))
    whys = [w.strip()[:500] for w in whys if w and w.strip()]
    errors = []
    if not whys:
        errors.append(("whys", _("Write at least the first why.")))
    if len(whys) > WHYS_MAX:
        errors.append(("whys", _("At most five whys.")))
    if category not in CAUSES:
        errors.append(("cause_category", _("Choose the kind of root cause.")))
    if errors:
        raise ServiceError(*errors)
    before = {"whys": capa.whys, "cause_category": capa.cause_category}
    capa.whys, capa.cause_category = whys, category
    db.session.flush()
    record("capa.root_cause", capa, actor=actor, before=before, after={"whys": whys, "cause_category": category})
    return capa


# -- actions --------------------------------------------------------------------------------------
def add_action(actor, capa_id: int, *, description: str, owner_id: int | None, due_on: date | None) -> CapaAction:
    capa = get_capa(actor, capa_id)
    if not may_edit(actor, capa):
        raise PermissionDenied()
    if capa.status == CLOSED:
        raise ServiceError((None, _("This corrective action is closed.")))
    owner = db.session.get(User, owner_id) if owner_id else None
    errors = []
    if owner is None or not owner.active:
        errors.append(("owner_id", _("Choose an active person to own the action.")))
    if due_on is None or due_on < local_today():
        errors.append(("due_on", _("Choose a due date from today on.")))
    if errors:
        raise ServiceError(*errors)
    action = CapaAction(capa_id=capa.id, description=_text(description, "description", TEXT_MAX,
                                                           _("Describe the action.")),
                        owner_id=owner.id, due_on=due_on)
    db.session.add(action)
    if capa.status == CHECKING:  # a new action reopens the work; the check waits for it
        capa.status, capa.implemented_on, capa.check_due_on = OPEN, None, None
    db.session.flush()
    record("capa.action_add", capa, actor=actor, after={"action_id": action.id, "owner_id": owner.id,
                                                        "due_on": due_on.isoformat()})
    return action


def complete_action(actor, action_id: int, note: str = "") -> CapaAction:
    """The owner (or whoever edits the CAPA) marks an action done; the last one starts the wait for the check."""
    action = db.session.get(CapaAction, action_id)
    if action is None:
        raise NotFound()
    capa = get_capa(actor, action.capa_id)
    if action.owner_id != actor.id and not may_edit(actor, capa):
        raise PermissionDenied()
    if action.status == ACTION_DONE:
        return action
    now = utcnow()
    changed = db.session.execute(
        sa.update(CapaAction).where(CapaAction.id == action.id, CapaAction.status == ACTION_OPEN)
        .values(status=ACTION_DONE, done_at=now, done_note=(note or "").strip()[:TEXT_MAX]),
        execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(action)
    if not changed:
        return action
    record("capa.action_done", capa, actor=actor, after={"action_id": action.id})
    db.session.refresh(capa)
    if capa.status == OPEN and all(a.status == ACTION_DONE for a in capa.actions):
        today = local_today()
        capa.status, capa.implemented_on = CHECKING, today
        capa.check_due_on = today + timedelta(days=CHECK_DAYS)
        db.session.flush()
        record("capa.implemented", capa, actor=actor, after={"implemented_on": today.isoformat(),
                                                             "check_due_on": capa.check_due_on.isoformat()})
    return action


# -- the effectiveness check ----------------------------------------------------------------------
def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, portal_tz())


def csat_windows(capa: Capa) -> tuple[tuple[float | None, int], tuple[float | None, int]]:
    """((CSAT, ratings) over the 30 days before ``implemented_on``, the same from it)."""
    day = capa.implemented_on
    before = (_start_of(day - timedelta(days=CHECK_DAYS)), _start_of(day))
    after = (_start_of(day), _start_of(day + timedelta(days=CHECK_DAYS)))
    scope = ({"point_ids": [capa.service_point_id]} if capa.service_point_id is not None
             else {"department_id": capa.department_id})
    excluded = upheld_feedback_ids(before[0], after[1], **scope)
    return (satisfaction(*before, exclude_ids=excluded, **scope), satisfaction(*after, exclude_ids=excluded, **scope))


def run_check(capa: Capa, *, today: date | None = None, actor=None) -> Capa:
    """Compute the effectiveness of a CAPA whose check is due (the daily job, or a manager asking)."""
    today = today or local_today()
    if capa.status != CHECKING or capa.check_due_on is None or today < capa.check_due_on:
        raise ServiceError((None, _("The effectiveness check is not due yet.")))
    (before, n_before), (after, n_after) = csat_windows(capa)
    if n_before < MIN_RATINGS or n_after < MIN_RATINGS:
        result = INSUFFICIENT
    else:
        result = EFFECTIVE if after >= before else NOT_EFFECTIVE
    capa.csat_before, capa.ratings_before, capa.csat_after, capa.ratings_after = before, n_before, after, n_after
    capa.effectiveness, capa.checked_at = result, utcnow()
    db.session.flush()
    record("capa.check", capa, actor=actor, after={"effectiveness": result, "csat_before": before,
                                                   "csat_after": after, "ratings_before": n_before,
                                                   "ratings_after": n_after})
    return capa


def due_checks(today: date) -> list[Capa]:
    return list(db.session.scalars(sa.select(Capa).where(Capa.status == CHECKING, Capa.effectiveness.is_(None),
                                                         Capa.check_due_on <= today).order_by(Capa.id)))


# -- closure --------------------------------------------------------------------------------------
def close(actor, capa_id: int, password: str) -> Capa:
    """The quality manager closes the CAPA with an e-signature; refused with an open action or without a result."""
    capa = get_capa(actor, capa_id)
    if not (is_active_user(actor) and actor.has_role(QUALITY_MANAGER)):
        raise PermissionDenied()
    if capa.status == CLOSED:
        return capa
    if any(a.status == ACTION_OPEN for a in capa.actions):
        raise ServiceError((None, _("Every action must be done before the corrective action closes.")))
    if capa.effectiveness not in (EFFECTIVE, NOT_EFFECTIVE):
        raise ServiceError((None, _("The effectiveness check has no result yet: the corrective action cannot "
                                    "close.")))
    now = utcnow()

    def claim() -> bool:
        return bool(db.session.execute(
            sa.update(Capa).where(Capa.id == capa.id, Capa.status == CHECKING)
            .values(status=CLOSED, closed_at=now, closed_by_id=actor.id),
            execution_options={"synchronize_session": False}).rowcount)

    digest = content_hash(str(capa.id), capa.title, capa.problem, "|".join(capa.whys or []), capa.effectiveness or "",
                          str(capa.csat_before), str(capa.csat_after))
    signature = sign_if(actor, password, CLOSE_MEANING, object_type="capa", object_id=capa.id,
                        content_sha256=digest, claim=claim)
    if signature is not None:
        db.session.execute(sa.update(Capa).where(Capa.id == capa.id).values(close_signature_id=signature.id),
                           execution_options={"synchronize_session": False})
        db.session.refresh(capa)
        record("capa.close", capa, actor=actor, before={"status": CHECKING}, after={"status": CLOSED},
               extra={"effectiveness": capa.effectiveness, "signature_id": signature.id})
    else:
        db.session.refresh(capa)
    return capa


def check_now(actor, capa_id: int) -> Capa:
    """Run a due effectiveness check now instead of waiting for the morning's job (whoever edits the CAPA)."""
    capa = get_capa(actor, capa_id)
    if not may_edit(actor, capa):
        raise PermissionDenied()
    if capa.effectiveness in (EFFECTIVE, NOT_EFFECTIVE):
        return capa
    return run_check(capa, actor=actor)


# -- the pages ------------------------------------------------------------------------------------
def may_close(user, capa: Capa) -> bool:
    """The closure form is the quality managers' (its guards say why a CAPA cannot close yet)."""
    return is_active_user(user) and user.has_role(QUALITY_MANAGER) and capa.status != CLOSED


def ready_to_close(capa: Capa) -> bool:
    return capa.status == CHECKING and capa.effectiveness in (EFFECTIVE, NOT_EFFECTIVE) and \
        all(a.status == ACTION_DONE for a in capa.actions)


def check_windows(capa: Capa) -> tuple[tuple[date, date], tuple[date, date]] | None:
    """The two windows the check compares, as first and last days: ((before), (after)); None before every action
    is done."""
    day = capa.implemented_on
    if day is None:
        return None
    return ((day - timedelta(days=CHECK_DAYS), day - timedelta(days=1)), (day, day + timedelta(days=CHECK_DAYS - 1)))


def check_due(capa: Capa, today: date | None = None) -> bool:
    return capa.status == CHECKING and capa.effectiveness not in (EFFECTIVE, NOT_EFFECTIVE) and \
        capa.check_due_on is not None and capa.check_due_on <= (today or local_today())


def is_overdue(action: CapaAction, today: date | None = None) -> bool:
    return action.status == ACTION_OPEN and action.due_on < (today or local_today())


def open_from(actor, fields: CapaFields, *, request_key: str = "") -> Capa:
    """Open a CAPA from the new-CAPA form: from a source the actor may see (its department and point are the
    source's, whatever the form says), or by hand."""
    from portal.capa import sources

    source = sources.resolve(actor, fields.source, fields.source_id)
    if source is not None:
        fields.department_id, fields.service_point_id = source.department_id, source.service_point_id
    else:
        fields.source, fields.source_id = BY_HAND, None
    return open_capa(actor, fields, request_key=request_key)


def department_choices(actor) -> list[tuple[int, str]]:
    """The active departments the actor may open a CAPA for."""
    query = sa.select(Department.id, Department.name).where(Department.active.is_(True))
    if not is_manager(actor):
        query = query.where(Department.head_id == actor.id)
    return [(r.id, r.name) for r in db.session.execute(query.order_by(Department.sort_order, Department.name))]


def visible_department_choices(actor) -> list[tuple[int, str]]:
    """The departments of the list's filter: all for managers, else those whose CAPAs the actor may see."""
    query = sa.select(Department.id, Department.name)
    if not is_manager(actor):
        ids = set(headed_department_ids(actor)) | ({actor.department_id} if actor.department_id else set())
        query = query.where(Department.id.in_(sorted(ids) or [-1]))
    return [(r.id, r.name) for r in db.session.execute(query.order_by(Department.sort_order, Department.name))]


def owner_choices(capa: Capa) -> list[tuple[int, str]]:
    """Active people, the CAPA's department first."""
    rows = db.session.execute(sa.select(User.id, User.display_name, User.department_id).where(User.active.is_(True))
                              .order_by(User.display_name, User.id)).all()
    return [(r.id, r.display_name) for r in sorted(rows, key=lambda r: r.department_id != capa.department_id)]


STATUS_FILTERS = ("active", OPEN, CHECKING, CLOSED, "all")


@dataclass
class ListFilters:
    status: str = "active"
    department_id: int | None = None
    mine: bool = False

    def args(self) -> dict:
        out = {"status": self.status}
        if self.department_id:
            out["department"] = self.department_id
        if self.mine:
            out["mine"] = 1
        return out


def _owned_by(user_id: int):
    return sa.exists().where(CapaAction.capa_id == Capa.id, CapaAction.owner_id == user_id)


def visible_query(actor):
    """The CAPAs ``actor`` may see (``may_see`` as a query)."""
    query = sa.select(Capa)
    if is_manager(actor):
        return query
    if not is_active_user(actor):
        return query.where(sa.false())
    departments = set(headed_department_ids(actor)) | ({actor.department_id} if actor.department_id else set())
    return query.where(sa.or_(Capa.department_id.in_(sorted(departments) or [-1]), _owned_by(actor.id)))


@dataclass
class ListRow:
    capa: Capa
    open_actions: int
    overdue_actions: int


def list_page(actor, filters: ListFilters, page: int = 1, per_page: int = 25):
    """One page of the CAPAs the actor may see, filtered, newest first, and the open and overdue actions of each
    (two queries and the count)."""
    query = visible_query(actor)
    if filters.status == "active":
        query = query.where(Capa.status != CLOSED)
    elif filters.status in (OPEN, CHECKING, CLOSED):
        query = query.where(Capa.status == filters.status)
    if filters.department_id:
        query = query.where(Capa.department_id == filters.department_id)
    if filters.mine:
        query = query.where(_owned_by(actor.id))
    pagination = db.paginate(query.order_by(Capa.created_at.desc(), Capa.id.desc()), page=page, per_page=per_page,
                             error_out=False)
    ids = [c.id for c in pagination.items]
    today = local_today()
    counts = {r.capa_id: (int(r.open or 0), int(r.overdue or 0)) for r in db.session.execute(
        sa.select(CapaAction.capa_id, sa.func.count().label("open"),
                  sa.func.sum(sa.case((CapaAction.due_on < today, 1), else_=0)).label("overdue"))
        .where(CapaAction.capa_id.in_(ids or [-1]), CapaAction.status == ACTION_OPEN)
        .group_by(CapaAction.capa_id))}
    rows = [ListRow(c, *counts.get(c.id, (0, 0))) for c in pagination.items]
    return pagination, rows


def users_by_id(ids) -> dict[int, User]:
    ids = sorted({i for i in ids if i})
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids or [-1])))}
