"""Processes and their ISO 9001 clauses (quality managers and administrators maintain them)."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes import bp, services
from portal.processes.forms import ProcessForm
from portal.processes.registry import accountable_names
from portal.web.access import ensure_role
from portal.web.htmx import arg_int, redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit

def _form(process=None) -> ProcessForm:
    form = ProcessForm(obj=process) if process is not None and request.method == "GET" else ProcessForm()
    if process is not None and request.method == "GET":
        form.clause_ids.data = [c.id for c in process.clauses]
    form.parent_id.choices = [(0, _("— none —"))] + [
        (p.id, p.label) for p in services.list_processes(active=None) if process is None or p.id != process.id
    ]
    form.clause_ids.choices = [(c.id, c.label) for c in services.all_clauses()]
    return form


def _data(form: ProcessForm) -> services.ProcessData:
    return services.ProcessData(code=form.code.data or "", name=form.name.data or "",
                                description=form.description.data or "", parent_id=form.parent_id.data,
                                clause_ids=list(form.clause_ids.data or []), sort_order=form.sort_order.data or 0)


@bp.route("/")
def index():
    """All processes with their clauses, accountable department and status; filter by clause and text."""
    ensure_role(current_user, ADMIN, QUALITY_MANAGER)
    clause_id = arg_int("clause")
    status = request.args.get("status", "active")
    q = request.args.get("q", "")
    active = {"active": True, "inactive": False}.get(status)
    processes = services.list_processes(active=active, clause_id=clause_id, q=q)
    owners = accountable_names([p.id for p in processes]) or {}
    return render("processes/index.html", "processes/_partials/_table.html", processes=processes, owners=owners,
                  clauses=services.all_clauses(), clause_id=clause_id, status=status, q=q)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Create a process (then give it an accountable department in the matrix)."""
    ensure_role(current_user, ADMIN, QUALITY_MANAGER)
    form = _form()
    process = submit(form, lambda: services.create_process(current_user, _data(form)))
    if process is not FAILED:
        flash(_("Process %(name)s created. Assign its accountable (A) department in the matrix.",
                    name=process.name), "success")
        return redirect_to(url_for("raci.index", clause=None))
    return render("processes/edit.html", "processes/_partials/_form.html", form=form, process=None), form_status(form)


@bp.route("/<int:process_id>/edit", methods=["GET", "POST"])
def edit(process_id: int):
    """Edit a process."""
    ensure_role(current_user, ADMIN, QUALITY_MANAGER)
    process = services.get_process(process_id)
    form = _form(process)
    if submit(form, lambda: services.update_process(current_user, process, _data(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("processes.index"))
    return render("processes/edit.html", "processes/_partials/_form.html", form=form, process=process), \
        form_status(form)


@bp.route("/<int:process_id>/active", methods=["POST"])
def set_active(process_id: int):
    """Deactivate or reactivate a process (never a delete)."""
    process = services.get_process(process_id)
    flash_outcome(perform(lambda: services.set_process_active(current_user, process, request.form.get("active") == "1")),
                  _("Saved."))
    return redirect_to(url_for("processes.index", status="all"))
