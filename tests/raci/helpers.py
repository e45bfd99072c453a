"""Helpers of the responsibility-matrix tests (质量职能分配表): the matrix's state and its markup.

The seeded matrix itself (``matrix_org``, ``seed_matrix``, ``cell_role``) is shared with the process tests: it
lives in tests/helpers.py and tests/conftest.py.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.core.uploads import PendingImport
from portal.extensions import db
from portal.raci.models import RaciAssignment, RaciRevision
from tests.helpers import count

MATRIX = "/quality/matrix"


# -- state ------------------------------------------------------------------------------------------
def cells() -> dict[tuple[int, int], str]:
    """The whole matrix as {(process_id, department_id): role}."""
    db.session.expire_all()
    return {(p, d): r for p, d, r in db.session.execute(
        sa.select(RaciAssignment.process_id, RaciAssignment.department_id, RaciAssignment.role))}


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
