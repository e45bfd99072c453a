"""The matrix as a classic 质量职能分配表 workbook: export, and import with a cell-by-cell preview.

Layout (sheet “质量职能分配表”): a title row, a row with the version and export date, a blank row, the
header row (过程编码 | 过程名称 | 标准条款 | one column per department), one row per process, and the
legend. Import reads the same layout; departments and processes missing from the file are left alone.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal import signals
from portal.audit.services import record
from portal.core.errors import Conflict, ServiceError
from portal.core.types import utcnow
from portal.core.uploads import (
    PendingImport, get_pending, keep_as_text, keep_pending, mark_applied, read_xlsx_rows,
)
from portal.extensions import db
from portal.org.models import Department, User
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes.models import Process
from portal.raci.models import ROLES, RaciAssignment, RaciRevision
from portal.raci.services import load_matrix, matrix_version
from portal.web.access import ensure_role

SHEET = "质量职能分配表"
HEADER = ("过程编码", "过程名称", "标准条款")
LEGEND = "图例：R 执行；A 负责/批准；C 协助/咨询；I 知会"
MAX_ROWS = 5000


def export_workbook(actor: User) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    matrix = load_matrix(actor)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    width = len(HEADER) + len(matrix.departments)
    ws.append([SHEET])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 3))
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([f"版本：V{matrix.version}　　导出日期：{format_date(utcnow(), 'yyyy-MM-dd')}"])
    ws.append([])
    ws.append([*HEADER, *[d.name for d in matrix.departments]])
    thin = Side(style="thin", color="999999")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for col in range(1, width + 1):
        cell = keep_as_text(ws.cell(row=4, column=col))
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    a_fill = PatternFill("solid", fgColor="FCE4D6")
    for process in matrix.processes:
        row = [process.code, process.name, "、".join(c.code for c in process.clauses)]
        row += [matrix.cells.get((process.id, d.id), "") for d in matrix.departments]
        ws.append(row)
        r = ws.max_row
        for col in range(1, width + 1):
            cell = keep_as_text(ws.cell(row=r, column=col))
            cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
            if col > len(HEADER):
                cell.alignment = Alignment(horizontal="center")
                if cell.value == "A":
                    cell.fill = a_fill
    ws.append([])
    ws.append([LEGEND])
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 16
    for col in range(len(HEADER) + 1, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = 10
    ws.freeze_panes = "D5"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@dataclass
class ImportPlan:
    changes: list[dict] = field(default_factory=list)  # {process, department, before, after, ...ids}
    errors: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors


def _column_name(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def read_matrix_file(content: bytes) -> list[list[str]]:
    """The rows of the matrix sheet (no database access: parsed before any lock is taken)."""
    return read_xlsx_rows(content, sheet=SHEET, max_rows=MAX_ROWS)


def plan_import(content: bytes) -> ImportPlan:
    """Compare the file with the matrix; list exactly which cells would change, or every error (in Chinese)."""
    return plan_rows(read_matrix_file(content))


def plan_rows(rows: list[list[str]]) -> ImportPlan:
    """Compare the rows read from a file with the matrix as it is now."""
    plan = ImportPlan()
    header_index = next((i for i, r in enumerate(rows) if r and r[0] == HEADER[0]), None)
    if header_index is None:
        raise ServiceError((None, _("The sheet has no header row starting with “过程编码”. Export the matrix from the "
                                    "portal and edit that file.")))
    header = rows[header_index]
    departments = list(db.session.scalars(sa.select(Department)))
    by_name = {d.name: d for d in departments} | {d.code: d for d in departments}
    columns: dict[int, Department] = {}
    for index in range(len(HEADER), len(header)):
        name = header[index]
        if not name:
            continue
        dept = by_name.get(name)
        if dept is None or not dept.active:
            plan.errors.append(_("Row %(row)d, column %(col)s: unknown department “%(name)s”.",
                                 row=header_index + 1, col=_column_name(index), name=name[:50]))
        elif dept.id in {d.id for d in columns.values()}:
            plan.errors.append(_("Row %(row)d, column %(col)s: the department “%(name)s” appears twice.",
                                 row=header_index + 1, col=_column_name(index), name=name[:50]))
        else:
            columns[index] = dept
    processes = {p.code.upper(): p for p in db.session.scalars(sa.select(Process))}
    current = {(c.process_id, c.department_id): c.role for c in db.session.scalars(sa.select(RaciAssignment))}
    a_holders: dict[int, set[int]] = {}
    for (process_id, dept_id), role in current.items():
        if role == "A":
            a_holders.setdefault(process_id, set()).add(dept_id)
    seen_codes: dict[str, int] = {}
    for offset, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        if row and row[0].startswith("图例"):
            break
        if not row or not row[0]:
            continue
        code = row[0].strip().upper()
        plan.rows += 1
        process = processes.get(code)
        if process is None:
            plan.errors.append(_("Row %(row)d: unknown process “%(code)s”.", row=offset, code=row[0][:32]))
            continue
        if code in seen_codes:
            plan.errors.append(_("Row %(row)d: the process “%(code)s” appears twice (also row %(other)d).",
                                 row=offset, code=code, other=seen_codes[code]))
            continue
        seen_codes[code] = offset
        holders = set(a_holders.get(process.id, set()))
        row_changes = []
        for index, dept in columns.items():
            raw = (row[index] if index < len(row) else "").strip().upper()
            if raw and raw not in ROLES:
                plan.errors.append(_("Row %(row)d, column %(col)s: “%(value)s” is not R, A, C, I or empty.",
                                     row=offset, col=_column_name(index), value=raw[:10]))
                continue
            after = raw or None
            before = current.get((process.id, dept.id))
            if before == "A" and after != "A":
                holders.discard(dept.id)
            if after == "A":
                holders.add(dept.id)
            if before != after:
                row_changes.append({"process_id": process.id, "department_id": dept.id, "process": process.label,
                                    "department": dept.name, "before": before, "after": after})
        if len(holders) > 1:
            names = "、".join(d.name for d in departments if d.id in holders)
            plan.errors.append(_("Row %(row)d: %(code)s has more than one A (%(names)s).", row=offset, code=code,
                                 names=names))
        elif not holders and process.active:
            plan.errors.append(_("Row %(row)d: %(code)s has no A. Every active process needs exactly one "
                                 "accountable department.", row=offset, code=code))
        plan.changes += row_changes
    if not plan.rows and not plan.errors:
        plan.errors.append(_("The sheet has no process rows."))
    return plan


def upload(actor: User, filename: str, content: bytes) -> tuple[PendingImport | None, ImportPlan]:
    ensure_role(actor, ADMIN, QUALITY_MANAGER)
    plan = plan_import(content)
    if not plan.valid or not plan.changes:
        return None, plan
    pending = keep_pending(actor, "raci", filename, content)
    record("raci_import.upload", pending, actor=actor,
           extra={"filename": pending.filename, "sha256": pending.sha256, "changes": len(plan.changes)})
    return pending, plan


def apply(actor: User, import_id: int) -> tuple[PendingImport, ImportPlan | None]:
    """Write exactly the previewed changes (re-planned against the matrix as it is now), with audit rows."""
    ensure_role(actor, ADMIN, QUALITY_MANAGER)
    # The file is parsed before the import is locked for writing: no write lock is held while parsing.
    pending = get_pending(actor, "raci", import_id)
    if pending.status != "pending":
        return pending, None
    rows = read_matrix_file(pending.content)
    pending = get_pending(actor, "raci", import_id, for_update=True)
    if pending.status != "pending":
        return pending, None
    plan = plan_rows(rows)
    if not plan.valid:
        raise ServiceError(*[(None, message) for message in plan.errors])
    # Cells losing an A are written first: the one-A index is checked statement by statement.
    ordered = sorted(plan.changes, key=lambda c: 0 if c["before"] == "A" else 1)
    try:
        with db.session.begin_nested():
            for change in ordered:
                cell = db.session.get(RaciAssignment, (change["process_id"], change["department_id"]))
                if change["after"] is None:
                    db.session.delete(cell)
                elif cell is None:
                    db.session.add(RaciAssignment(process_id=change["process_id"],
                                                  department_id=change["department_id"], role=change["after"],
                                                  updated_by_id=actor.id, updated_at=utcnow()))
                else:
                    cell.role, cell.updated_by_id, cell.updated_at = change["after"], actor.id, utcnow()
                db.session.flush()
                record("raci.cell", actor=actor, object_type="raci_cell",
                       object_id=f"{change['process_id']}:{change['department_id']}",
                       before={"role": change["before"]}, after={"role": change["after"]}, extra={"via": "import"})
    except IntegrityError:
        # An A was assigned on another connection between the plan and the writes (the one-A index).
        raise Conflict((None, _("Someone else changed this record first. Reload and try again.")))
    if plan.changes:
        db.session.add(RaciRevision(actor_id=actor.id, source="import", changes=len(plan.changes)))
        db.session.flush()
        signals.matrix_changed.send(None, changes=[(c["process_id"], c["department_id"], c["before"], c["after"])
                                                   for c in plan.changes], actor=actor)
    mark_applied(pending, {"changes": len(plan.changes), "version": matrix_version()})
    record("raci_import.apply", pending, actor=actor, extra={"changes": len(plan.changes)})
    return pending, plan
