"""Processes of the quality management system, and their ISO 9001 clause references.

Administrators and quality managers maintain them. A process is never deleted: it is deactivated, and an
active process must have exactly one accountable (A) department in the responsibility matrix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import NotFound, ServiceError
from portal.core.trees import would_cycle
from portal.extensions import db
from portal.org.models import User
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes.registry import accountable_names
from portal.processes.models import IsoClause, Process
from portal.web.access import ensure_role

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
FIELDS = ("code", "name", "description", "parent_id", "active", "sort_order")


@dataclass
class ProcessData:
    code: str
    name: str
    description: str = ""
    parent_id: int | None = None
    clause_ids: list[int] = field(default_factory=list)
    sort_order: int = 0


def get_process(process_id: int) -> Process:
    process = db.session.get(Process, process_id)
    if process is None:
        raise NotFound()
    return process


def all_clauses() -> list[IsoClause]:
    return list(db.session.scalars(sa.select(IsoClause).order_by(IsoClause.sort_key)))


def selectable_processes(keep_id: int | None = None) -> list[Process]:
    """The active processes, plus ``keep_id`` (a deactivated process a record still points to), for a select."""
    return list(db.session.scalars(
        sa.select(Process).where(sa.or_(Process.active.is_(True), Process.id == (keep_id or -1)))
        .order_by(Process.sort_order, Process.code)))


def list_processes(*, active: bool | None = True, clause_id: int | None = None, q: str = "") -> list[Process]:
    from sqlalchemy.orm import selectinload

    stmt = sa.select(Process).options(selectinload(Process.clauses)).order_by(Process.sort_order, Process.code)
    if active is not None:
        stmt = stmt.where(Process.active.is_(active))
    if clause_id:
        stmt = stmt.where(Process.clauses.any(IsoClause.id == clause_id))
    if q:
        q = q.strip()[:100]
        stmt = stmt.where(sa.or_(Process.code.icontains(q, autoescape=True), Process.name.icontains(q, autoescape=True)))
    return list(db.session.scalars(stmt))


def _snapshot(process: Process) -> dict:
    data = {name: getattr(process, name) for name in FIELDS}
    data["clauses"] = [c.code for c in process.clauses]
    return data


def _validate(data: ProcessData, existing: Process | None) -> tuple[str, str, list[IsoClause]]:
    errors: list[tuple[str | None, str]] = []
    code = (data.code or "").strip().upper()
    name = (data.name or "").strip()
    if not CODE_RE.match(code):
        errors.append(("code", _("A process code has 1–32 letters, digits, dot, dash or underscore.")))
    else:
        clash = db.session.scalar(sa.select(Process).where(sa.func.upper(Process.code) == code))
        if clash is not None and clash is not existing:
            errors.append(("code", _("The code “%(code)s” is already used.", code=code)))
    if not name or len(name) > 100:
        errors.append(("name", _("A process name has 1–100 characters.")))
    if len(data.description or "") > 5000:
        errors.append(("description", _("The description may have at most 5000 characters.")))
    if data.parent_id is not None:
        parent = db.session.get(Process, data.parent_id)
        if parent is None:
            errors.append(("parent_id", _("Unknown process.")))
        elif existing is not None and would_cycle(existing, parent):
            errors.append(("parent_id", _("A process cannot be placed under itself or its own sub-process.")))
    clauses = list(db.session.scalars(sa.select(IsoClause).where(IsoClause.id.in_(data.clause_ids or [])))) \
        if data.clause_ids else []
    if len(clauses) != len(set(data.clause_ids or [])):
        errors.append(("clause_ids", _("Unknown clause.")))
    if errors:
        raise ServiceError(*errors)
    return code, name, clauses


def create_process(actor: User, data: ProcessData) -> Process:
    """A new process starts active but without an accountable department: the matrix shows it as invalid
    until someone is made A."""
    ensure_role(actor, ADMIN, QUALITY_MANAGER)
    code, name, clauses = _validate(data, None)
    process = Process(code=code, name=name, description=(data.description or "").strip(), parent_id=data.parent_id,
                      sort_order=data.sort_order or 0)
    process.clauses = clauses
    db.session.add(process)
    db.session.flush()
    record("process.create", process, actor=actor, after=_snapshot(process))
    return process


def update_process(actor: User, process: Process, data: ProcessData) -> Process:
    ensure_role(actor, ADMIN, QUALITY_MANAGER)
    before = _snapshot(process)
    code, name, clauses = _validate(data, process)
    process.code, process.name = code, name
    process.description, process.parent_id, process.sort_order = (data.description or "").strip(), data.parent_id, data.sort_order or 0
    process.clauses = clauses
    db.session.flush()
    after = _snapshot(process)
    if after != before:
        record("process.update", process, actor=actor, before=before, after=after)
    return process


def set_process_active(actor: User, process: Process, active: bool) -> Process:
    """Deactivate or reactivate. Reactivating needs an accountable (A) department (when the matrix is there
    to say so: ``portal.processes.registry``)."""
    ensure_role(actor, ADMIN, QUALITY_MANAGER)
    if process.active == active:
        return process
    owners = accountable_names([process.id])
    if active and owners is not None and process.id not in owners:
        raise ServiceError((None, _("Assign an accountable (A) department in the matrix before reactivating.")))
    process.active = active
    db.session.flush()
    record("process.activate" if active else "process.deactivate", process, actor=actor)
    return process
