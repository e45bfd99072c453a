"""The responsibility matrix: the grid with in-place cell editing, per-cell history, Excel export and
import with preview, and 我的职责 (my responsibilities)."""
from __future__ import annotations


from flask import request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from portal.core.errors import Conflict
from portal.core.types import utcnow
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes.services import all_clauses
from portal.raci import bp, excel, services
from portal.raci.forms import MatrixUploadForm
from portal.web.downloads import send_download
from portal.web.access import ensure_role
from portal.web.htmx import arg_ids, arg_int, render
from portal.web.imports import apply_upload, preview_upload
from portal.web.submit import perform



@bp.route("/")
def index():
    """The grid: processes × departments; filter columns by department and rows by clause."""
    department_ids = arg_ids("dept")
    clause_id = arg_int("clause")
    include_inactive = request.args.get("inactive") == "1"
    matrix = services.load_matrix(current_user, department_ids=department_ids, clause_id=clause_id,
                                  include_inactive=include_inactive)
    all_departments = matrix.departments if not department_ids else services.active_departments()
    return render("raci/index.html", "raci/_partials/_grid.html", matrix=matrix, legend=services.LEGEND,
                  clauses=all_clauses(), clause_id=clause_id, department_ids=department_ids,
                  all_departments=all_departments, include_inactive=include_inactive)


@bp.route("/cell/<int:process_id>/<int:department_id>", methods=["GET", "POST"])
def cell(process_id: int, department_id: int):
    """GET: one cell (used to cancel an edit). POST: set the cell (R, A, C, I or empty; ``transfer`` moves an A)."""
    process, department, role = services.get_cell(process_id, department_id)
    if request.method == "GET":
        return render("raci/_partials/_cell.html", "raci/_partials/_cell.html", process=process,
                      department=department, role=role,
                      editable=services.may_edit(current_user, department, role))
    new_role = request.form.get("role", "").strip().upper()
    outcome = perform(lambda: services.set_cell(current_user, process_id, department_id, new_role,
                                                transfer=request.form.get("transfer") == "1"))
    if outcome.failed:
        exc = outcome.error
        process, department, role = services.get_cell(process_id, department_id)
        status = 409 if isinstance(exc, Conflict) else 422
        return render("raci/_partials/_cell_editor.html", "raci/_partials/_cell_editor.html", process=process,
                      department=department, role=role, error=str(exc), roles=services.LEGEND,
                      offer_transfer=isinstance(exc, services.AccountableTaken), attempted=new_role), status
    others = []
    for change in outcome.value:
        if change.department_id != department_id:
            p, d, r = services.get_cell(change.process_id, change.department_id)
            others.append((p, d, r))
    process, department, role = services.get_cell(process_id, department_id)
    # The cell itself, plus out-of-band swaps: the row's validity badge and any cell a transfer changed.
    return render("raci/_partials/_cell_update.html", "raci/_partials/_cell_update.html", process=process,
                  department=department, role=role, editable=True, a_count=services.accountable_count(process_id), others=others)


@bp.route("/cell/<int:process_id>/<int:department_id>/edit")
def cell_editor(process_id: int, department_id: int):
    """The in-place editor of one cell."""
    process, department, role = services.get_cell(process_id, department_id)
    services.check_can_edit(current_user, department, role, None if role == "A" else role)
    return render("raci/_partials/_cell_editor.html", "raci/_partials/_cell_editor.html", process=process,
                  department=department, role=role, error=None, offer_transfer=False, roles=services.LEGEND,
                  attempted="")


@bp.route("/cell/<int:process_id>/<int:department_id>/history")
def cell_history(process_id: int, department_id: int):
    """Who changed this cell, when, from what to what."""
    process, department, role = services.get_cell(process_id, department_id)
    return render("raci/history.html", "raci/_partials/_history.html", process=process, department=department,
                  role=role, events=services.cell_history(process_id, department_id))


@bp.route("/export.xlsx")
def export():
    """The matrix as a classic 质量职能分配表 workbook."""
    data = excel.export_workbook(current_user)
    day = format_date(utcnow(), "yyyyMMdd")
    return send_download(data, f"质量职能分配表-{day}.xlsx", f"raci-matrix-{day}.xlsx")


@bp.route("/import", methods=["GET", "POST"])
def import_matrix():
    """Upload an edited workbook: see exactly which cells would change before anything is written."""
    ensure_role(current_user, ADMIN, QUALITY_MANAGER)
    return preview_upload(MatrixUploadForm(), excel.upload, "raci/import.html", "raci/_partials/_import_preview.html")


@bp.route("/import/<int:import_id>/apply", methods=["POST"])
def import_apply(import_id: int):
    """Apply a previewed import; a second click applies nothing."""
    return apply_upload(
        excel.apply, import_id, retry_url=url_for("raci.import_matrix"), done_url=url_for("raci.index"),
        done_message=lambda pending, plan: _("Matrix imported: %(n)d cells changed.", n=len(plan.changes)),
    )


@bp.route("/mine")
def mine():
    """我的职责: the processes where my department is R, A, C or I."""
    return render("raci/mine.html", "raci/mine.html", roles=services.my_responsibilities(current_user),
                  legend=services.LEGEND)
