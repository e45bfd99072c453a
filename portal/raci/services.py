"""The responsibility matrix (质量职能分配表): processes × departments, R/A/C/I in each cell.

It is the backbone of the portal. Other capabilities must ask it, and nothing else, who is accountable
for a process, who executes it, who is consulted and who is informed:

    accountable_department(process)      -> Department | None   the A: approves the process's SOPs, owns its queue
    departments_with(process, role)      -> list[Department]   e.g. the R departments must train on an SOP
    processes_for(department)            -> dict[role, list[Process]]

Rules:
* exactly one A per active process: at most one is a database constraint (partial unique index); the
  service refuses to leave an active process without one (move the A instead, with ``transfer=True``);
* administrators and quality managers edit every cell; a department head edits only their own
  department's column, only R, C, I or empty, and never a cell that is or would become A — and only
  while PORTAL_RACI_HEADS_EDIT_OWN_COLUMN is on (the default);
* every change is audited per cell (object type ``raci_cell``, id ``<process>:<department>``) and bumps
  the matrix version (``raci_revision``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal import signals
from portal.audit.services import events_for, record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Department, User
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes.models import Process
from portal.processes.services import list_processes
from portal.raci.models import ROLES, RaciAssignment, RaciRevision

LEGEND = {
    "R": _l("Responsible (执行)"),
    "A": _l("Accountable, approves (负责/批准)"),
    "C": _l("Consulted, assists (协助/咨询)"),
    "I": _l("Informed (知会)"),
}


# -- the API other capabilities use --------------------------------------------------------------
def _process_id(process) -> int:
    return process if isinstance(process, int) else process.id


def accountable_department(process) -> Department | None:
    """The department that is A for ``process`` (a Process or its id), or None when none is set."""
    return db.session.scalar(
        sa.select(Department).join(RaciAssignment, RaciAssignment.department_id == Department.id)
        .where(RaciAssignment.process_id == _process_id(process), RaciAssignment.role == "A")
    )


def accountable_names(process_ids: list[int]) -> dict[int, str]:
    """{process_id: name of its A department} for these processes (registered for the process list)."""
    if not process_ids:
        return {}
    return dict(db.session.execute(
        sa.select(RaciAssignment.process_id, Department.name)
        .join(Department, Department.id == RaciAssignment.department_id)
        .where(RaciAssignment.role == "A", RaciAssignment.process_id.in_(process_ids))
    ).all())


def accountable_departments(process_ids) -> dict[int, Department]:
    """{process_id: its A department} for these processes, in one query (lists of SOPs awaiting approval)."""
    ids = [i for i in set(process_ids) if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(RaciAssignment.process_id, Department)
        .join(Department, Department.id == RaciAssignment.department_id)
        .where(RaciAssignment.role == "A", RaciAssignment.process_id.in_(ids))
    ).all())


def accountable_count(process_id: int) -> int:
    """How many A's the process has (the row's validity badge: exactly one is right)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(RaciAssignment).where(
        RaciAssignment.process_id == process_id, RaciAssignment.role == "A")) or 0


def departments_with(process, role: str) -> list[Department]:
    """The departments holding ``role`` (R, A, C or I) for ``process``, in department order."""
    if role not in ROLES:
        raise ValueError(f"unknown RACI role {role!r}")
    return list(db.session.scalars(
        sa.select(Department).join(RaciAssignment, RaciAssignment.department_id == Department.id)
        .where(RaciAssignment.process_id == _process_id(process), RaciAssignment.role == role)
        .order_by(Department.sort_order, Department.code)
    ))


def processes_for(department) -> dict[str, list[Process]]:
    """The active processes in which ``department`` (a Department or id) holds each role: {"R": [...], ...}."""
    dept_id = department if isinstance(department, int) else department.id
    rows = db.session.execute(
        sa.select(RaciAssignment.role, Process)
        .join(Process, Process.id == RaciAssignment.process_id)
        .where(RaciAssignment.department_id == dept_id, Process.active.is_(True))
        .order_by(Process.sort_order, Process.code)
    ).all()
    out: dict[str, list[Process]] = {role: [] for role in ROLES}
    for role, process in rows:
        out[role].append(process)
    return out


# -- the grid -------------------------------------------------------------------------------------
@dataclass
class Matrix:
    processes: list[Process]
    departments: list[Department]
    cells: dict[tuple[int, int], str]
    a_count: dict[int, int]
    version: int
    editable_departments: set[int] = field(default_factory=set)
    full_edit: bool = False

    def valid(self, process: Process) -> bool:
        return not process.active or self.a_count.get(process.id, 0) == 1


def matrix_version() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RaciRevision)) or 0


def load_matrix(actor: User | None, *, department_ids: list[int] | None = None, clause_id: int | None = None,
                include_inactive: bool = False) -> Matrix:
    """Everything the grid needs, in a fixed number of queries whatever its size."""
    processes = list_processes(active=None if include_inactive else True, clause_id=clause_id)
    departments = active_departments()
    all_dept_ids = [d.id for d in departments]
    shown = [d for d in departments if not department_ids or d.id in department_ids]
    process_ids = [p.id for p in processes]
    cells: dict[tuple[int, int], str] = {}
    a_count: dict[int, int] = defaultdict(int)
    if process_ids:
        for process_id, dept_id, role in db.session.execute(
            sa.select(RaciAssignment.process_id, RaciAssignment.department_id, RaciAssignment.role)
            .where(RaciAssignment.process_id.in_(process_ids))
        ):
            cells[(process_id, dept_id)] = role
            if role == "A":
                a_count[process_id] += 1
    full = bool(actor and actor.has_role(ADMIN, QUALITY_MANAGER))
    editable: set[int] = set(all_dept_ids) if full else set()
    if actor is not None and not full and heads_may_edit():
        editable = {d.id for d in departments if d.head_id == actor.id}
    return Matrix(processes, shown, cells, a_count, matrix_version(), editable, full)


def active_departments() -> list[Department]:
    return list(db.session.scalars(
        sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    ))


def may_edit(actor: User, department: Department, role: str | None) -> bool:
    """Whether the grid offers ``actor`` the editor for this cell (the same rule check_can_edit enforces)."""
    try:
        check_can_edit(actor, department, role, None if role == "A" else role)
    except PermissionDenied:
        return False
    return True


def heads_may_edit() -> bool:
    return bool(current_app.config.get("PORTAL_RACI_HEADS_EDIT_OWN_COLUMN", True))


# -- editing --------------------------------------------------------------------------------------
def check_can_edit(actor: User, department: Department, old: str | None, new: str | None) -> None:
    """Raise PermissionDenied unless ``actor`` may change this cell from ``old`` to ``new``."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied()
    if actor.has_role(ADMIN, QUALITY_MANAGER):
        return
    if heads_may_edit() and department.head_id == actor.id and "A" not in (old, new):
        return
    raise PermissionDenied()


class AccountableTaken(Conflict):
    """Another department is already A for the process; setting A again with ``transfer=True`` moves it."""


@dataclass
class CellChange:
    process_id: int
    department_id: int
    before: str | None
    after: str | None


def get_cell(process_id: int, department_id: int) -> tuple[Process, Department, str | None]:
    process = db.session.get(Process, process_id)
    department = db.session.get(Department, department_id)
    if process is None or department is None:
        raise NotFound()
    role = db.session.scalar(sa.select(RaciAssignment.role).where(
        RaciAssignment.process_id == process_id, RaciAssignment.department_id == department_id))
    return process, department, role


def _write(actor: User, process_id: int, department_id: int, before: str | None, after: str | None) -> CellChange:
    cell = db.session.get(RaciAssignment, (process_id, department_id))
    if after is None:
        if cell is not None:
            db.session.delete(cell)
    elif cell is None:
        db.session.add(RaciAssignment(process_id=process_id, department_id=department_id, role=after,
                                      updated_by_id=actor.id, updated_at=utcnow()))
    else:
        cell.role, cell.updated_by_id, cell.updated_at = after, actor.id, utcnow()
    record("raci.cell", actor=actor, object_type="raci_cell", object_id=f"{process_id}:{department_id}",
           before={"role": before}, after={"role": after})
    return CellChange(process_id, department_id, before, after)


def set_cell(actor: User, process_id: int, department_id: int, role: str | None, *,
             transfer: bool = False) -> list[CellChange]:
    """Set one cell to R, A, C, I or empty (None). Returns every cell that changed (a transfer of A
    changes two). Raises Conflict when another department holds A and ``transfer`` is not set, or when
    someone else assigned an A at the same moment."""
    role = (role or "").strip().upper() or None
    process, department, before = get_cell(process_id, department_id)
    check_can_edit(actor, department, before, role if role in ROLES else None)
    if role is not None and role not in ROLES:
        raise ServiceError(("role", _("Choose R, A, C, I or empty.")))
    if before == role:
        return []
    if not department.active:
        raise ServiceError(("role", _("The department is deactivated.")))
    changes: list[CellChange] = []
    holder = None
    if role == "A":
        holder = accountable_department(process)
        if holder is not None and holder.id != department_id and not transfer:
            raise AccountableTaken(("role", _("%(dept)s is already accountable (A) for %(process)s. Each process has "
                                      "exactly one A: transfer it to %(new)s?",
                                      dept=holder.name, process=process.name, new=department.name)))
    elif before == "A" and process.active:
        raise ServiceError(("role", _("%(process)s must keep exactly one accountable (A) department. To move the A, "
                                      "choose A in the new department's cell and confirm the transfer.",
                                      process=process.name)))
    # Every write inside the savepoint: the INSERT/UPDATE is flushed by record()'s queries (autoflush), so a
    # concurrent A committed meanwhile surfaces there, and must become a Conflict, not an IntegrityError.
    try:
        with db.session.begin_nested():
            if holder is not None and holder.id != department_id:
                changes.append(_write(actor, process_id, holder.id, "A", "R"))
            changes.append(_write(actor, process_id, department_id, before, role))
            db.session.flush()
    except IntegrityError:
        raise Conflict(("role", _("Someone else has just assigned the accountable (A) department of %(process)s. "
                                  "Reload the matrix to see it.", process=process.name)))
    db.session.add(RaciRevision(actor_id=actor.id, source="cell", changes=len(changes)))
    db.session.flush()
    signals.matrix_changed.send(None, changes=[(c.process_id, c.department_id, c.before, c.after) for c in changes],
                                actor=actor)
    return changes


def cell_history(process_id: int, department_id: int, limit: int = 50) -> list:
    """The audit events of one cell, newest first."""
    return events_for("raci_cell", f"{process_id}:{department_id}", limit)


def my_responsibilities(user: User) -> dict[str, list[Process]]:
    if user.department_id is None:
        return {role: [] for role in ROLES}
    return processes_for(user.department_id)
