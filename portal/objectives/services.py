"""Quality objectives: periods, status, permissions, objectives and their measurements.

Every function that changes something takes the acting user, checks that the actor may do it, flushes but
never commits, and writes an audit event. ``record_measurement`` with ``actor=None`` is the automatic-metrics
job (no person entered the value).

Who may do what:

* admin and quality_manager: create, edit, deactivate objectives; enter values for any objective;
* dept_head: enter values for the objectives of the departments they head (``Department.head_id``); the
  edit and entry pages of other departments' objectives do not exist for them (404);
* everyone logged in: the list and the detail pages, read-only.
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import signals
from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.parsing import NumberError, parse_decimal
from portal.core.types import utcnow
from portal.extensions import db
from portal.objectives.models import (
    AT_RISK, DIRECTION_LABELS, GE, MANUAL, MISSED, MONTH, NO_DATA, ON_TRACK, PERIODS, QUARTER, STATUS_LABELS,
    YEAR, Measurement, Objective, format_decimal,
)
from portal.notify.services import notify
from portal.objectives.registry import get_metric, missed_actions
from portal.org.models import Department, User
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.processes.models import Process
from portal.web.access import ensure_role
from portal.core.i18n import portal_tz

log = logging.getLogger(__name__)

MISSED_KIND = "objective.missed"

MANAGER_ROLES = (ADMIN, QUALITY_MANAGER)
OBJECTIVE_FIELDS = ("name", "process_id", "department_id", "metric_definition", "unit", "target", "direction",
                    "period", "data_source", "tolerance_percent", "active")
SCALE = Decimal("0.0001")  # the four decimals of the value columns
MAX_ABS = Decimal(10) ** 12  # Numeric(16, 4): twelve integer digits
EARLIEST_PERIOD = date(2000, 1, 1)
SPARKLINE_POINTS = 12


# == periods ========================================================================================
def local_today() -> date:
    """Today in the portal's time zone (Asia/Shanghai), which decides which periods have closed."""
    return datetime.now(portal_tz()).date()


def period_start_of(period: str, day: date) -> date:
    """The first day of the period (of type ``period``) that contains ``day``."""
    if period == MONTH:
        return day.replace(day=1)
    if period == QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if period == YEAR:
        return date(day.year, 1, 1)
    raise ValueError(f"unknown period {period!r}")


def _add_months(start: date, months: int) -> date:
    index = start.year * 12 + (start.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


_MONTHS_PER_PERIOD = {MONTH: 1, QUARTER: 3, YEAR: 12}


def next_period_start(period: str, start: date) -> date:
    return _add_months(period_start_of(period, start), _MONTHS_PER_PERIOD[period])


def previous_period_start(period: str, start: date) -> date:
    return _add_months(period_start_of(period, start), -_MONTHS_PER_PERIOD[period])


def period_end(period: str, start: date) -> date:
    """The last day (inclusive) of the period starting on ``start``."""
    return next_period_start(period, start) - timedelta(days=1)


def last_closed_period_start(period: str, today: date) -> date:
    """The latest period that has ended before ``today``: on 2025-04-01 the month is March, the quarter Q1."""
    return previous_period_start(period, period_start_of(period, today))


def recent_period_starts(period: str, today: date, count: int) -> list[date]:
    """The current period and the ``count - 1`` before it, newest first."""
    starts = [period_start_of(period, today)]
    while len(starts) < count:
        starts.append(previous_period_start(period, starts[-1]))
    return starts


def period_label(period: str, start: date) -> str:
    if period == MONTH:
        return _("%(year)d-%(month)02d", year=start.year, month=start.month)
    if period == QUARTER:
        return _("%(year)d Q%(quarter)d", year=start.year, quarter=(start.month - 1) // 3 + 1)
    return _("Year %(year)d", year=start.year)


def clean_period_start(period: str, value, today: date | None = None, field: str = "period_start") -> date:
    """A period key as entered: an ISO date that is the first day of a period that has started."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        if not text:
            raise ServiceError((field, _("Choose the period.")))
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ServiceError((field, _("Enter the period as the date it starts, e.g. 2025-01-01."))) from None
    if period_start_of(period, value) != value:
        messages = {
            MONTH: _("A monthly value belongs to the first day of its month, e.g. 2025-02-01."),
            QUARTER: _("A quarterly value belongs to the first day of its quarter: 1 January, 1 April, 1 July or 1 October."),
            YEAR: _("A yearly value belongs to 1 January of its year."),
        }
        raise ServiceError((field, messages[period]))
    today = today or local_today()
    if value > period_start_of(period, today):
        raise ServiceError((field, _("This period has not started yet.")))
    if value < EARLIEST_PERIOD:
        raise ServiceError((field, _("Periods before 2000 are not accepted.")))
    return value


# == numbers and status =============================================================================
#: Units whose values are bounded: a percentage is 0–100, a permille 0–1000, counts and durations never negative.
UNIT_BOUNDS = {"%": (Decimal(0), Decimal(100)), "‰": (Decimal(0), Decimal(1000))}
NON_NEGATIVE_UNITS = ("分钟", "小时", "天", "件", "次", "人次", "min", "h", "d")


def unit_bounds(unit: str | None) -> tuple[Decimal | None, Decimal | None]:
    unit = (unit or "").strip()
    if unit in UNIT_BOUNDS:
        return UNIT_BOUNDS[unit]
    if unit in NON_NEGATIVE_UNITS:
        return Decimal(0), None
    return None, None


def parse_number(value, field: str, *, required: bool = True, label: str | None = None,
                 unit: str | None = None) -> Decimal | None:
    """A decimal number from a form (full-width digits accepted) or from code (int, float, Decimal); with
    ``unit``, within the unit's bounds (``unit_bounds``)."""
    minimum, maximum = unit_bounds(unit)
    try:
        return parse_decimal(value, places=4, max_abs=MAX_ABS, minimum=minimum, maximum=maximum)
    except NumberError as exc:
        if exc.kind == "empty":
            if required:
                raise ServiceError((field, _("Please enter a number."))) from None
            return None
        if exc.kind == "places":
            raise ServiceError((field, _("Use at most 4 decimal places."))) from None
        if exc.kind == "too_large":
            raise ServiceError((field, _("The number is too large."))) from None
        if exc.kind == "range" and maximum is None:
            raise ServiceError((field, _("A value in %(unit)s cannot be negative.", unit=unit))) from None
        if exc.kind == "range":
            raise ServiceError((field, _("A value in %(unit)s must be between %(low)s and %(high)s.", unit=unit,
                                         low=format_decimal(minimum), high=format_decimal(maximum)))) from None
        raise ServiceError((field, _("“%(value)s” is not a number. Enter digits only, e.g. 95.5 (without the unit).",
                                     value=str(value)[:40]))) from None


def compute_status(target: Decimal, direction: str, tolerance_percent: Decimal, value: Decimal) -> str:
    """On track when the value meets the target in the direction; at risk when it misses by at most
    ``tolerance_percent`` of the target (the edge itself is at risk); missed when worse."""
    target, value, tolerance = Decimal(target), Decimal(value), Decimal(tolerance_percent)
    shortfall = (target - value) if direction == GE else (value - target)
    if shortfall <= 0:
        return ON_TRACK
    if shortfall <= abs(target) * tolerance / 100:
        return AT_RISK
    return MISSED


def measurement_status(objective: Objective, measurement: Measurement) -> str:
    return compute_status(objective.target, objective.direction, objective.tolerance_percent, measurement.value)


# == permissions ====================================================================================
def _authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def can_manage(user) -> bool:
    """Create, edit, deactivate objectives."""
    return _authenticated(user) and user.has_role(*MANAGER_ROLES)


def heads_department(user, department_id: int | None) -> bool:
    if not _authenticated(user) or department_id is None or not user.has_role(DEPT_HEAD):
        return False
    return db.session.scalar(
        sa.select(Department.id).where(Department.id == department_id, Department.head_id == user.id)
    ) is not None


def can_measure(user, objective: Objective) -> bool:
    """Enter values for ``objective``."""
    return can_manage(user) or heads_department(user, objective.department_id)


def ensure_can_manage(actor, objective: Objective | None = None) -> None:
    """403, except for a department head looking at another department's objective: that is a 404."""
    if can_manage(actor):
        return
    if objective is not None and _authenticated(actor) and actor.has_role(DEPT_HEAD) \
            and not heads_department(actor, objective.department_id):
        raise NotFound()
    ensure_role(actor, *MANAGER_ROLES)


def ensure_can_measure(actor, objective: Objective) -> None:
    if can_measure(actor, objective):
        return
    if _authenticated(actor) and actor.has_role(DEPT_HEAD):
        raise NotFound()
    raise PermissionDenied()


# == lookups and lists ==============================================================================
def get_objective(objective_id: int) -> Objective:
    objective = db.session.get(Objective, objective_id)
    if objective is None:
        raise NotFound()
    return objective


def objective_page(q: str, department_id: int | None, process_id: int | None, period: str, status: str,
                   active: bool | None, *, page: int, per_page: int):
    """One page of ``search_objectives``."""
    return db.paginate(search_objectives(q, department_id, process_id, period, status, active), page=page,
                       per_page=per_page, error_out=False)


def search_objectives(q: str = "", department_id: int | None = None, process_id: int | None = None,
                      period: str | None = None, status: str | None = None, active: bool | None = True):
    """A select() of objectives matching the filters, in department order, then by name."""
    stmt = (
        sa.select(Objective)
        .join(Department, Department.id == Objective.department_id)
        .options(joinedload(Objective.department), joinedload(Objective.process))
        .order_by(Department.sort_order, Department.code, Objective.name, Objective.id)
    )
    text = (q or "").strip()[:100]
    if text:
        stmt = stmt.where(Objective.name.icontains(text, autoescape=True))
    if department_id:
        stmt = stmt.where(Objective.department_id == department_id)
    if process_id:
        stmt = stmt.where(Objective.process_id == process_id)
    if period in PERIODS:
        stmt = stmt.where(Objective.period == period)
    if status == NO_DATA:
        stmt = stmt.where(Objective.current_status.is_(None))
    elif status in STATUS_LABELS:
        stmt = stmt.where(Objective.current_status == status)
    if active is not None:
        stmt = stmt.where(Objective.active.is_(active))
    return stmt


def measurements_of(objective: Objective) -> list[Measurement]:
    """All measurements of the objective, newest period first."""
    return list(db.session.scalars(
        sa.select(Measurement).options(joinedload(Measurement.entered_by))
        .where(Measurement.objective_id == objective.id).order_by(Measurement.period_start.desc())
    ))


def get_measurement(objective: Objective, period_start: date) -> Measurement | None:
    return db.session.scalar(sa.select(Measurement).where(
        Measurement.objective_id == objective.id, Measurement.period_start == period_start))


def missed_measurement(measurement_id: int) -> tuple[Objective, Measurement]:
    """(objective, measurement) of a period whose value missed its target (the source of a corrective action);
    NotFound for any other id."""
    measurement = db.session.get(Measurement, measurement_id)
    objective = db.session.get(Objective, measurement.objective_id) if measurement is not None else None
    if objective is None or measurement_status(objective, measurement) != MISSED:
        raise NotFound()
    return objective, measurement


def recent_measurements(objective_ids, limit: int = SPARKLINE_POINTS) -> dict[int, list[Measurement]]:
    """The last ``limit`` measurements of each objective, oldest first — one query for the whole page."""
    ids = list(objective_ids)
    out: dict[int, list[Measurement]] = {i: [] for i in ids}
    if not ids:
        return out
    rank = sa.func.row_number().over(
        partition_by=Measurement.objective_id, order_by=Measurement.period_start.desc()).label("rank")
    ranked = sa.select(Measurement.id, rank).where(Measurement.objective_id.in_(ids)).subquery()
    rows = db.session.scalars(
        sa.select(Measurement).join(ranked, ranked.c.id == Measurement.id).where(ranked.c.rank <= limit)
        .order_by(Measurement.objective_id, Measurement.period_start)
    )
    for m in rows:
        out[m.objective_id].append(m)
    return out


def refresh_status(objective: Objective) -> None:
    """Recompute the cached status of the objective from its latest measurement."""
    latest = db.session.scalar(sa.select(Measurement).where(Measurement.objective_id == objective.id)
                               .order_by(Measurement.period_start.desc()).limit(1))
    objective.current_status = measurement_status(objective, latest) if latest is not None else None


def objective_path(objective_id: int) -> str:
    """The detail page's path, also outside a request (the automatic job raises notifications too)."""
    if has_request_context():
        return url_for("objectives.detail", objective_id=objective_id)
    return current_app.url_map.bind("localhost").build("objectives.detail", {"objective_id": objective_id})


# == objectives =====================================================================================
@dataclass
class ObjectiveData:
    name: str
    department_id: int | None
    target: object
    direction: str = GE
    period: str = MONTH
    process_id: int | None = None
    metric_definition: str = ""
    unit: str = ""
    data_source: str = MANUAL
    tolerance_percent: object = "5"


@dataclass
class _Clean:
    name: str
    department_id: int
    process_id: int | None
    metric_definition: str
    unit: str
    target: Decimal
    direction: str
    period: str
    data_source: str
    tolerance_percent: Decimal


def _snapshot(objective: Objective) -> dict:
    data = {name: getattr(objective, name) for name in OBJECTIVE_FIELDS}
    data["target"] = format_decimal(objective.target)
    data["tolerance_percent"] = format_decimal(objective.tolerance_percent)
    return data


def _has_measurements(objective: Objective) -> bool:
    return db.session.scalar(sa.select(Measurement.id).where(Measurement.objective_id == objective.id).limit(1)) \
        is not None


def _validate_objective(data: ObjectiveData, existing: Objective | None) -> _Clean:
    errors: list[tuple[str | None, str]] = []
    name = " ".join((data.name or "").split())
    if not name:
        errors.append(("name", _("Please enter the name.")))
    elif len(name) > 200:
        errors.append(("name", _("The name may have at most 200 characters.")))

    department = db.session.get(Department, data.department_id) if data.department_id else None
    if data.department_id is None:
        errors.append(("department_id", _("Choose the owner department.")))
    elif department is None or (not department.active and (existing is None or existing.department_id != department.id)):
        errors.append(("department_id", _("Unknown or deactivated department.")))

    if data.process_id is not None:
        process = db.session.get(Process, data.process_id)
        if process is None or (not process.active and (existing is None or existing.process_id != process.id)):
            errors.append(("process_id", _("Unknown or deactivated process.")))

    metric_definition = (data.metric_definition or "").strip()
    if len(metric_definition) > 4000:
        errors.append(("metric_definition", _("The definition may have at most 4000 characters.")))
    unit = (data.unit or "").strip()
    if len(unit) > 16:
        errors.append(("unit", _("The unit may have at most 16 characters.")))

    target = tolerance = None
    try:
        target = parse_number(data.target, "target", unit=unit)
    except ServiceError as exc:
        errors += exc.errors
    try:
        tolerance = parse_number(data.tolerance_percent, "tolerance_percent", required=False)
        tolerance = Decimal(5) if tolerance is None else tolerance
        if not Decimal(0) <= tolerance <= Decimal(100):
            errors.append(("tolerance_percent", _("The tolerance is a percentage from 0 to 100.")))
    except ServiceError as exc:
        errors += exc.errors

    if data.direction not in DIRECTION_LABELS:
        errors.append(("direction", _("Choose ≥ or ≤.")))
    if data.period not in PERIODS:
        errors.append(("period", _("Choose monthly, quarterly or yearly.")))
    elif existing is not None and existing.period != data.period and _has_measurements(existing):
        errors.append(("period", _("The period cannot change once values have been entered: deactivate this "
                                   "objective and create a new one.")))

    source = (data.data_source or MANUAL).strip()
    if source != MANUAL and get_metric(source) is None and (existing is None or existing.data_source != source):
        errors.append(("data_source", _("Unknown data source.")))

    if name and department is not None:
        clash = db.session.scalar(sa.select(Objective.id).where(
            sa.func.lower(Objective.name) == name.lower(), Objective.department_id == department.id,
            Objective.active.is_(True), Objective.id != (existing.id if existing else -1)).limit(1))
        if clash is not None:
            errors.append(("name", _("This department already has an active objective named “%(name)s”.", name=name)))
    if errors:
        raise ServiceError(*errors)
    return _Clean(name, department.id, data.process_id, metric_definition, unit, target, data.direction,
                  data.period, source, tolerance)


def _apply(objective: Objective, clean: _Clean) -> None:
    for name in ("name", "department_id", "process_id", "metric_definition", "unit", "target", "direction",
                 "period", "data_source", "tolerance_percent"):
        setattr(objective, name, getattr(clean, name))


def create_objective(actor: User, data: ObjectiveData) -> Objective:
    ensure_can_manage(actor)
    clean = _validate_objective(data, None)
    objective = Objective(active=True)
    _apply(objective, clean)
    db.session.add(objective)
    db.session.flush()
    record("objective.create", objective, actor=actor, after=_snapshot(objective))
    return objective


def update_objective(actor: User, objective: Objective, data: ObjectiveData) -> Objective:
    ensure_can_manage(actor, objective)
    before = _snapshot(objective)
    clean = _validate_objective(data, objective)
    _apply(objective, clean)
    db.session.flush()
    after = _snapshot(objective)
    if after != before:
        objective.updated_at = utcnow()
        refresh_status(objective)  # the target, direction or tolerance may have changed
        db.session.flush()
        record("objective.update", objective, actor=actor, before=before, after=after)
    return objective


def set_objective_active(actor: User, objective: Objective, active: bool) -> Objective:
    """Deactivate (or reactivate). Objectives with measurements are never deleted."""
    ensure_can_manage(actor, objective)
    if objective.active == active:
        return objective
    if active:
        clash = db.session.scalar(sa.select(Objective.id).where(
            sa.func.lower(Objective.name) == objective.name.lower(), Objective.department_id == objective.department_id,
            Objective.active.is_(True), Objective.id != objective.id).limit(1))
        if clash is not None:
            raise ServiceError((None, _("This department already has an active objective named “%(name)s”.",
                                        name=objective.name)))
    objective.active = active
    objective.updated_at = utcnow()
    db.session.flush()
    record("objective.activate" if active else "objective.deactivate", objective, actor=actor)
    return objective


def delete_objective(actor: User, objective: Objective) -> None:
    """Delete an objective created by mistake. One with measurements is history: deactivate it instead."""
    ensure_can_manage(actor, objective)
    if _has_measurements(objective):
        raise ServiceError((None, _("This objective has recorded values and cannot be deleted; deactivate it instead.")))
    record("objective.delete", objective, actor=actor, before=_snapshot(objective))
    db.session.delete(objective)
    db.session.flush()


# == measurements ===================================================================================
def _measurement_snapshot(m: Measurement) -> dict:
    return {"value": format_decimal(m.value), "note": m.note}


def record_measurement(actor: User | None, objective: Objective, period_start, value, note: str = "", *,
                       today: date | None = None, notify_missed: bool = True, reason: str = "") -> Measurement:
    """Enter the value of ``objective`` for the period starting on ``period_start``.

    A second entry for the same period updates the row (audited with before and after); it never adds
    one, even when two requests race. ``actor`` None is the automatic-metrics job. A missed value
    notifies the owner department's head once per objective and period.
    """
    if actor is not None:
        ensure_can_measure(actor, objective)
    errors: list[tuple[str | None, str]] = []
    if not objective.active:
        errors.append((None, _("This objective is deactivated: no values can be entered.")))
    start = amount = None
    try:
        start = clean_period_start(objective.period, period_start, today)
    except ServiceError as exc:
        errors += exc.errors
    try:
        amount = parse_number(value, "value", unit=objective.unit)
    except ServiceError as exc:
        errors += exc.errors
    note = (note or "").strip()
    if len(note) > 1000:
        errors.append(("note", _("The note may have at most 1000 characters.")))
    if errors:
        raise ServiceError(*errors)

    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ServiceError(("reason", _("The reason may have at most 500 characters.")))

    now = utcnow()
    entered_by_id = actor.id if actor is not None else None
    measurement = get_measurement(objective, start)
    if measurement is None:
        measurement, inserted = _insert_measurement(objective, start, amount, note, entered_by_id, now)
        if inserted:
            record("objective.measurement_create", measurement, actor=actor,
                   after={"objective_id": objective.id, "period_start": start.isoformat(),
                          **_measurement_snapshot(measurement)},
                   extra={"via": "automatic"} if actor is None else None)
            return _after_measurement(objective, measurement, notify_missed)

    before = _measurement_snapshot(measurement)
    if before == {"value": format_decimal(amount), "note": note}:
        return _after_measurement(objective, measurement, notify_missed)
    value_changed = before["value"] != format_decimal(amount)
    if value_changed and actor is not None and not reason:
        # A correction of a recorded value is traceable: who, when, from what to what, and why.
        raise ServiceError(("reason", _("This period already has the value %(value)s. Give a reason for the "
                                        "correction.", value=before["value"])))
    status_before = measurement_status(objective, measurement)
    measurement.value, measurement.note = amount, note
    measurement.entered_by_id, measurement.entered_at = entered_by_id, now
    db.session.flush()
    extra = {"objective_id": objective.id, "period_start": start.isoformat()}
    if actor is None:
        extra["via"] = "automatic"
    if reason:
        extra["reason"] = reason
    record("objective.measurement_update", measurement, actor=actor, before=before,
           after=_measurement_snapshot(measurement), extra=extra)
    if value_changed:
        _notify_correction(objective, measurement, before["value"], status_before)
    return _after_measurement(objective, measurement, notify_missed)


def notify_owner_head(objective: Objective, dedupe_key: str, message) -> None:
    """Notify the head of the objective's owner department; ``message()`` returns (title, body) and is called
    in the head's language."""
    department = objective.department
    head = department.head if department is not None else None
    if head is None or not head.active:
        return
    with force_locale(head.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        title, body = message()
    notify(head, MISSED_KIND, title, body, objective_path(objective.id), department_id=department.id,
           dedupe_key=dedupe_key)


def _notify_correction(objective: Objective, measurement: Measurement, old_value: str, status_before: str) -> None:
    """A missed period corrected to a value that is no longer missed is told to the head, who acted on the old
    value. (A correction to another missed value notifies through ``objective_missed``, with the new value.)"""
    status_after = measurement_status(objective, measurement)
    if status_before != MISSED or status_after == MISSED:
        return

    def message():
        period = period_label(objective.period, measurement.period_start)
        return (_("Quality objective corrected: %(name)s (%(period)s)", name=objective.name, period=period),
                _("The value %(old)s%(unit)s was corrected to %(new)s%(unit)s: %(before)s → %(after)s.",
                  old=old_value, new=measurement.value_text, unit=objective.unit,
                  before=STATUS_LABELS[status_before], after=STATUS_LABELS[status_after]))

    notify_owner_head(objective, f"objective.corrected:{objective.id}:{measurement.period_start.isoformat()}:"
                                 f"{format_decimal(measurement.value)}", message)


def _insert_measurement(objective: Objective, start: date, amount: Decimal, note: str, entered_by_id: int | None,
                        now: datetime) -> tuple[Measurement, bool]:
    """Insert the period's row in a savepoint; when a concurrent request (a double click) inserted it first,
    the unique constraint refuses ours and theirs is returned, to be updated instead."""
    fresh = Measurement(objective_id=objective.id, period_start=start, value=amount, note=note,
                        entered_by_id=entered_by_id, entered_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(fresh)
    except IntegrityError:
        existing = get_measurement(objective, start)
        if existing is None:
            raise
        return existing, False
    return fresh, True


def _after_measurement(objective: Objective, measurement: Measurement, notify_missed: bool) -> Measurement:
    refresh_status(objective)
    db.session.flush()
    if notify_missed and measurement_status(objective, measurement) == MISSED:
        # Subscribers (the owner head's notification; CAPA later) write their rows in this transaction.
        signals.objective_missed.send(objective, measurement=measurement)
    return measurement


def actions_for_missed(objective: Objective, measurement: Measurement) -> list[tuple[str, str]]:
    """The links registered for a missed value (e.g. "Open a corrective action"). A broken provider is
    logged and skipped: it must not take the objective's page down."""
    links: list[tuple[str, str]] = []
    for fn in missed_actions():
        try:
            links += [(str(label), str(url)) for label, url in (fn(objective, measurement) or [])]
        except Exception:  # noqa: BLE001 - another domain's code
            current_app.logger.exception("missed-objective action %r failed", fn)
    return links


# == sparkline ======================================================================================
@dataclass
class SparkPoint:
    x: float
    y: float
    status: str
    label: str
    value: str


@dataclass
class Sparkline:
    """What the inline SVG needs: the points of the values and the height of the target line."""

    width: int
    height: int
    points: list[SparkPoint]
    target_y: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:g},{p.y:g}" for p in self.points)


def sparkline(objective: Objective, measurements: list[Measurement], width: int = 120, height: int = 32,
              pad: int = 4) -> Sparkline | None:
    """The last 12 measurements (oldest first) scaled into ``width`` × ``height``, with the target as a
    horizontal line. None without measurements."""
    recent = sorted(measurements, key=lambda m: m.period_start)[-SPARKLINE_POINTS:]
    if not recent:
        return None
    values = [float(m.value) for m in recent]
    target = float(objective.target)
    lo, hi = min(values + [target]), max(values + [target])
    if hi == lo:
        lo, hi = lo - 1, hi + 1

    def y(v: float) -> float:
        return round(pad + (hi - v) / (hi - lo) * (height - 2 * pad), 1)

    step = (width - 2 * pad) / (len(recent) - 1) if len(recent) > 1 else 0
    points = [
        SparkPoint(x=round(pad + i * step if len(recent) > 1 else width / 2, 1), y=y(v),
                   status=measurement_status(objective, m), label=period_label(objective.period, m.period_start),
                   value=m.value_text + objective.unit)
        for i, (m, v) in enumerate(zip(recent, values))
    ]
    return Sparkline(width, height, points, y(target))
