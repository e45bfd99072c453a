"""The queues' settings, for quality managers and administrators (``org.services.is_manager``): the SLA policies
(targets per priority, through ``sla.save_policy``) and the routing rules (a feedback category → a department's
queue, read by ``services.route``).

**Routing rules** (``add_rule``, ``delete_rule``; audited): the category must be one customers can choose today
(``feedback.services.known_categories``: the default chips and every active point's own), the department active,
and a category has at most one rule. Adding the same rule again (a double submit) changes nothing; a rule for the
category to another department is refused (delete it first). Deleting a rule that is gone already changes nothing.
A rule applies to feedback received after it; tickets already in a queue stay there (reassign them by hand).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.extensions import db
from portal.feedback.services import active_points, known_categories
from portal.org.models import Department
from portal.org.services import is_manager
from portal.triage import services, sla
from portal.triage.models import BY_MATRIX, PRIORITIES, RoutingRule, SlaPolicy
from portal.workcal.services import WorkingHours

#: Longest list of warning points one policy takes.
MAX_WARNINGS = 10
MAX_TARGET_MINUTES = 100_000


def require_manager(actor) -> None:
    if not is_manager(actor):
        raise PermissionDenied()


# -- SLA policies ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlaRow:
    policy: sla.Policy
    #: False: the built-in default (no row saved yet).
    saved: bool


@dataclass(frozen=True)
class SlaOverview:
    rows: list[SlaRow]
    #: Business minutes after the breach at which the head, then the quality managers, are told.
    head_minutes: int
    qm_minutes: int
    working_hours: WorkingHours


def sla_overview(actor) -> SlaOverview:
    """Every priority's targets (saved or default), the escalation ladder's delays and the working hours the
    clock counts (the same for every department: ``sla.working_hours_of``)."""
    require_manager(actor)
    saved = set(db.session.scalars(sa.select(SlaPolicy.priority)))
    policies = sla.policies()
    head, qm = sla.escalation_minutes()
    return SlaOverview([SlaRow(policies[p], p in saved) for p in PRIORITIES], head, qm, sla.working_hours_of(None))


def check_priority(actor, priority: str) -> None:
    """A manager, and a priority that exists (NotFound otherwise: it is part of the address)."""
    require_manager(actor)
    if priority not in PRIORITIES:
        raise NotFound()


def parse_thresholds(text: str) -> list[int]:
    """"50, 75, 100" (commas, 、, spaces or ％ signs allowed) → [50, 75, 100]; ServiceError on anything else."""
    cleaned = (text or "").replace("，", ",").replace("、", ",").replace("%", "").replace("％", "")
    parts = [p for p in cleaned.replace(" ", ",").split(",") if p]
    if len(parts) > MAX_WARNINGS or not all(p.isascii() and p.isdigit() and len(p) <= 3 for p in parts):
        raise ServiceError(("warn_at", _("Write the warning points as per cents of the target from 1 to 100, "
                                         "separated by commas, e.g. 50, 75, 100.")))
    return sorted({int(p) for p in parts})


def save_sla_policy(actor, priority: str, *, first_response_minutes: int | None, resolution_minutes: int | None,
                    warn_at_text: str) -> SlaPolicy:
    """Save a priority's targets (``sla.save_policy``: audited; new tickets get them)."""
    check_priority(actor, priority)
    errors = []
    for name, value in (("first_response_minutes", first_response_minutes),
                        ("resolution_minutes", resolution_minutes)):
        if value is not None and value > MAX_TARGET_MINUTES:
            errors.append((name, _("At most %(n)d working minutes.", n=MAX_TARGET_MINUTES)))
    try:
        thresholds = parse_thresholds(warn_at_text)
    except ServiceError as exc:
        errors += exc.errors
        thresholds = []
    if errors:
        raise ServiceError(*errors)
    return sla.save_policy(actor, priority, first_response_minutes=first_response_minutes,
                           resolution_minutes=resolution_minutes, warn_at=thresholds)


# -- routing rules --------------------------------------------------------------------------------
@dataclass
class MatrixRoute:
    """A service point whose feedback the matrix sends to another department (no category rule applying)."""

    point: object
    department_id: int


@dataclass
class RoutingOverview:
    rules: list[RoutingRule]
    categories: list[str]
    departments: list[tuple[int, str]]
    matrix_routes: list[MatrixRoute] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)


def routing_overview(actor) -> RoutingOverview:
    """The rules, the categories and departments to choose from, and the points the matrix routes elsewhere."""
    require_manager(actor)
    rules = list(db.session.scalars(sa.select(RoutingRule).options(joinedload(RoutingRule.department))
                                    .order_by(RoutingRule.category)))
    departments = list(db.session.scalars(sa.select(Department).order_by(Department.sort_order, Department.name)))
    names = {d.id: d.name for d in departments}
    routes = []
    for point in active_points():
        if point.process_id is None:
            continue
        department_id, how = services.route(SimpleNamespace(categories=[], service_point=point, department_id=None))
        if how == BY_MATRIX:
            routes.append(MatrixRoute(point, department_id))
    return RoutingOverview(rules, known_categories(), [(d.id, d.name) for d in departments if d.active], routes,
                           names)


def _insert_rule(values: dict) -> RoutingRule | None:
    """INSERT … ON CONFLICT (category) DO NOTHING: a twin request waits on the unique index, then finds the row."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return db.session.scalars(insert(RoutingRule).on_conflict_do_nothing().returning(RoutingRule), values).first()


def _rule_for(category: str) -> RoutingRule | None:
    return db.session.scalar(sa.select(RoutingRule).where(RoutingRule.category == category))


def _same_or_refuse(existing: RoutingRule, department: Department) -> RoutingRule:
    if existing.department_id == department.id:
        return existing
    other = db.session.get(Department, existing.department_id)
    raise ServiceError(("category", _("%(category)s already goes to %(department)s: delete that rule first.",
                                      category=existing.category, department=other.name if other else "—")))


def add_rule(actor, category: str, department_id: int | None) -> RoutingRule:
    """Feedback of ``category`` goes to the department's queue, whatever its point (audited)."""
    require_manager(actor)
    category = (category or "").strip()
    errors = []
    if category not in known_categories():
        errors.append(("category", _("Choose one of the categories customers can choose.")))
    department = db.session.get(Department, department_id) if department_id else None
    if department is None or not department.active:
        errors.append(("department_id", _("Choose an active department.")))
    if errors:
        raise ServiceError(*errors)
    existing = _rule_for(category)
    if existing is not None:
        return _same_or_refuse(existing, department)
    rule = _insert_rule(dict(category=category, department_id=department.id, active=True, created_by_id=actor.id))
    if rule is None:  # a twin request added it a moment ago
        db.session.expire_all()
        return _same_or_refuse(_rule_for(category), department)
    record("triage.routing_rule_add", rule, actor=actor,
           after={"category": category, "department_id": department.id})
    return rule


def delete_rule(actor, rule_id: int) -> RoutingRule | None:
    """Delete a rule (audited with what it said); None when it was gone already (a double submit)."""
    require_manager(actor)
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None:
        return None
    record("triage.routing_rule_delete", rule, actor=actor,
           before={"category": rule.category, "department_id": rule.department_id})
    db.session.delete(rule)
    db.session.flush()
    return rule
