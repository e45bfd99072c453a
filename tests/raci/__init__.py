"""Helpers and fixtures shared by the responsibility-matrix tests (质量职能分配表).

The shared fixtures of the whole suite live in tests/conftest.py; the ones here are imported explicitly
by the test modules (``from tests.raci import matrix_org``), so that pytest registers them there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.core.uploads import PendingImport
from portal.extensions import db
from portal.org.models import Department, User
from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.processes.clauses import ensure_clauses
from portal.processes.models import IsoClause, Process
from portal.raci.models import RaciAssignment, RaciRevision

MATRIX = "/quality/matrix"

#: department code, name (all CJK, as in a real 质量职能分配表)
DEPARTMENTS = [
    ("ZH", "综合办公室"),
    ("ZL", "质量管理部"),
    ("KF", "客服部"),
    ("YY", "运营部"),
]
#: process code, name, clauses, A, [R...], [C...]   (every other department is I)
PROCESSES = [
    ("T-01", "质量方针与目标管理", ["5.2", "6.2"], "ZL", ["ZL"], ["ZH"]),
    ("T-02", "成文信息控制", ["7.5.3"], "ZL", ["ZH"], ["KF"]),
    ("T-03", "客户投诉处理", ["9.1.2", "10.2"], "KF", ["KF", "YY"], ["ZL"]),
    ("T-04", "柜面业务办理", ["8.5.1"], "YY", ["YY"], ["KF"]),
    ("T-05", "内部审核", ["9.2"], "ZL", ["ZL"], ["ZH", "KF", "YY"]),
    ("T-06", "管理评审", ["9.3"], "ZH", ["ZL"], ["KF", "YY"]),
]


@dataclass
class MatrixOrg:
    depts: dict[str, Department]
    procs: dict[str, Process]
    clauses: dict[str, IsoClause]
    qm: User
    heads: dict[str, User] = field(default_factory=dict)
    employee: User | None = None

    def role(self, process_code: str, dept_code: str) -> str | None:
        return cell_role(self.procs[process_code].id, self.depts[dept_code].id)


def seed_org(make_user) -> MatrixOrg:
    """Departments (each with a head), processes with clauses, a complete matrix with exactly one A each."""
    ensure_clauses(db.session)
    clauses = {c.code: c for c in db.session.scalars(sa.select(IsoClause))}
    depts: dict[str, Department] = {}
    for order, (code, name) in enumerate(DEPARTMENTS):
        dept = Department(code=code, name=name, sort_order=order * 10)
        db.session.add(dept)
        depts[code] = dept
    db.session.flush()
    heads = {}
    for code, dept in depts.items():
        heads[code] = make_user(f"head_{code.lower()}", roles=(DEPT_HEAD,), department=dept,
                                display_name=f"{dept.name}负责人")
        dept.head_id = heads[code].id
    qm = make_user("qm_t", roles=(QUALITY_MANAGER,), department=depts["ZL"], display_name="质量经理")
    employee = make_user("emp_t", roles=(EMPLOYEE,), department=depts["KF"], display_name="客服员工")
    procs: dict[str, Process] = {}
    for order, (code, name, clause_codes, accountable, responsible, consulted) in enumerate(PROCESSES):
        process = Process(code=code, name=name, sort_order=order * 10, clauses=[clauses[c] for c in clause_codes])
        db.session.add(process)
        db.session.flush()
        procs[code] = process
        for dept_code, dept in depts.items():
            role = "A" if dept_code == accountable else "R" if dept_code in responsible else \
                "C" if dept_code in consulted else "I"
            db.session.add(RaciAssignment(process_id=process.id, department_id=dept.id, role=role))
    db.session.commit()  # a SAVEPOINT release inside the test's transaction: a rollback keeps the seed
    return MatrixOrg(depts, procs, clauses, qm, heads, employee)


@pytest.fixture
def matrix_org(make_user) -> MatrixOrg:
    return seed_org(make_user)


# -- state ------------------------------------------------------------------------------------------
def cell_role(process_id: int, department_id: int) -> str | None:
    return db.session.scalar(sa.select(RaciAssignment.role).where(
        RaciAssignment.process_id == process_id, RaciAssignment.department_id == department_id))


def cells() -> dict[tuple[int, int], str]:
    """The whole matrix as {(process_id, department_id): role}."""
    db.session.expire_all()
    return {(p, d): r for p, d, r in db.session.execute(
        sa.select(RaciAssignment.process_id, RaciAssignment.department_id, RaciAssignment.role))}


def count(model, *where) -> int:
    stmt = sa.select(sa.func.count()).select_from(model)
    if where:
        stmt = stmt.where(*where)
    return db.session.scalar(stmt)


def a_count(process_id: int) -> int:
    return count(RaciAssignment, RaciAssignment.process_id == process_id, RaciAssignment.role == "A")


def state() -> dict[str, int]:
    """Row counts of everything the matrix code writes."""
    return {
        "cells": count(RaciAssignment),
        "a_cells": count(RaciAssignment, RaciAssignment.role == "A"),
        "audit": count(AuditEvent),
        "imports": count(PendingImport),
        "revisions": count(RaciRevision),
    }


def cell_audit(process_id: int | None = None, department_id: int | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == "raci.cell").order_by(AuditEvent.id)
    if process_id is not None:
        stmt = stmt.where(AuditEvent.object_type == "raci_cell", AuditEvent.object_id == f"{process_id}:{department_id}")
    return list(db.session.scalars(stmt))


# -- markup -----------------------------------------------------------------------------------------
TAG_RE = re.compile(r"<[^>]+>")


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(markup: str) -> str:
    import html

    return re.sub(r"\s+", " ", html.unescape(TAG_RE.sub(" ", markup))).strip()


def cell_div(markup: str, process_id: int, department_id: int) -> str:
    """The markup of the div ``#c-<p>-<d>`` (a cell, or its editor)."""
    match = re.search(rf'<div id="c-{process_id}-{department_id}"[^>]*>(.*?)</div>', markup, re.S)
    assert match, f"no cell c-{process_id}-{department_id} in {markup[:400]}"
    return match.group(0)


def shown_role(markup: str, process_id: int, department_id: int) -> str:
    """The letter a cell shows ('' for empty)."""
    div = cell_div(markup, process_id, department_id)
    match = re.search(r'<(?:button|span)[^>]*class="cell-(?:btn|ro) role-(\w+)"', div)
    assert match, div
    return "" if match.group(1) == "none" else match.group(1)


def editable_cells(markup: str) -> set[tuple[int, int]]:
    """(process_id, department_id) of every cell rendered with an edit button."""
    return {(int(p), int(d)) for p, d in re.findall(
        r'<div id="c-(\d+)-(\d+)" class="cell-inner"[^>]*>\s*<button type="button" class="cell-btn', markup)}


def readonly_cells(markup: str) -> set[tuple[int, int]]:
    return {(int(p), int(d)) for p, d in re.findall(
        r'<div id="c-(\d+)-(\d+)" class="cell-inner"[^>]*>\s*<span class="cell-ro', markup)}


def assert_varies_on_hx(response) -> None:
    vary = [v.strip().lower() for v in (response.headers.get("Vary") or "").split(",")]
    assert "hx-request" in vary, response.headers.get("Vary")
