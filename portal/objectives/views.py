"""质量目标: the list, the detail page with measurements and sparkline, and the forms for objectives and values.
Everyone logged in may read; the services decide who may write."""
from __future__ import annotations

from datetime import date

from flask import flash, request, url_for
from flask_babel import gettext as _

from portal.objectives import bp, services
from portal.core.forms import ConfirmForm
from portal.objectives.forms import MeasurementForm, ObjectiveForm
from portal.objectives.models import MANUAL, NO_DATA, PERIOD_LABELS, STATUS_LABELS, Objective
from portal.objectives.registry import get_metric, metrics
from portal.org.services import department_tree
from portal.processes.services import selectable_processes
from portal.web.access import acting_user
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


PER_PAGE = 50
UNITS = ("%", "‰", "分", "分钟", "小时", "天", "件", "次", "人次")
RECENT_PERIODS = {"month": 24, "quarter": 8, "year": 5}



# -- choices --------------------------------------------------------------------------------------
def _department_choices(blank_label: str, include_inactive: bool = True) -> list[tuple[int, str]]:
    return [(0, blank_label)] + [
        (d.id, "\u3000" * depth + d.name + ("" if d.active else _(" (deactivated)")))
        for d, depth in department_tree(include_inactive=include_inactive)
    ]


def _process_choices(blank_label: str, keep_id: int | None = None) -> list[tuple[int, str]]:
    return [(0, blank_label)] + [(p.id, p.label) for p in selectable_processes(keep_id)]


def _source_choices(current: str | None = None) -> list[tuple[str, str]]:
    choices = [(MANUAL, _("Entered manually"))] + [(m.key, str(m.label)) for m in metrics()]
    if current and current != MANUAL and get_metric(current) is None:
        choices.append((current, _("%(key)s (not available)", key=current)))
    return choices


def _prepare_objective_form(form: ObjectiveForm, objective: Objective | None = None) -> ObjectiveForm:
    form.department_id.choices = _department_choices(_("— choose —"), include_inactive=objective is not None)
    form.process_id.choices = _process_choices(_("— none —"), objective.process_id if objective else None)
    form.data_source.choices = _source_choices(objective.data_source if objective else None)
    return form


def _objective_data(form: ObjectiveForm) -> services.ObjectiveData:
    return services.ObjectiveData(
        name=form.name.data or "", department_id=form.department_id.data, process_id=form.process_id.data,
        metric_definition=form.metric_definition.data or "", unit=form.unit.data or "",
        target=form.target.data, direction=form.direction.data, period=form.period.data,
        data_source=form.data_source.data or MANUAL, tolerance_percent=form.tolerance_percent.data,
    )


def _period_choices(objective: Objective, extra: str | None = None) -> list[tuple[str, str]]:
    starts = services.recent_period_starts(objective.period, services.local_today(), RECENT_PERIODS[objective.period])
    choices = [(d.isoformat(), services.period_label(objective.period, d)) for d in starts]
    if extra and extra not in {value for value, _label in choices}:
        try:
            label = services.period_label(objective.period, date.fromisoformat(extra))
        except ValueError:
            label = extra
        choices.insert(0, (extra, label))
    return choices


def _measurement_form(objective: Objective, period: str | None = None, formdata=None) -> MeasurementForm:
    """The entry form; with ``period`` (an ISO date) prefilled with that period's value, for a correction."""
    if formdata is not None:
        form = MeasurementForm()
    else:
        form = MeasurementForm(formdata=None)
        start = services.last_closed_period_start(objective.period, services.local_today())
        if period:
            try:
                start = date.fromisoformat(period)
            except ValueError:
                pass
        existing = services.get_measurement(objective, start)
        form.period_start.data = start.isoformat()
        if existing is not None:
            form.value.data, form.note.data = existing.value_text, existing.note
    form.period_start.choices = _period_choices(objective, form.period_start.data)
    return form


def _detail_context(objective: Objective, form: MeasurementForm | None = None, **extra) -> dict:
    actor = acting_user()
    measurements = services.measurements_of(objective)
    can_measure = services.can_measure(actor, objective)
    if can_measure and form is None and objective.active:
        form = _measurement_form(objective)
    statuses = {m.id: services.measurement_status(objective, m) for m in measurements}
    return dict(
        objective=objective, measurements=measurements, statuses=statuses,
        latest=measurements[0] if measurements else None,
        spark=services.sparkline(objective, measurements, width=360, height=90, pad=8),
        actions={m.id: services.actions_for_missed(objective, m) for m in measurements if statuses[m.id] == "missed"},
        can_manage=services.can_manage(actor), can_measure=can_measure, form=form if objective.active else None,
        period_labels=PERIOD_LABELS, status_labels=STATUS_LABELS,
        label_of=lambda m: services.period_label(objective.period, m.period_start),
        metric=get_metric(objective.data_source), **extra,
    )


# -- list -----------------------------------------------------------------------------------------
@bp.route("/")
def index():
    """The objectives with their latest status and sparkline; filters and active search by name."""
    q = request.args.get("q", "")
    department_id = arg_int("department")
    process_id = arg_int("process")
    period = request.args.get("period", "")
    status = request.args.get("status", "")
    active_filter = request.args.get("active", "active")
    active = {"active": True, "inactive": False}.get(active_filter)
    page = services.objective_page(q, department_id, process_id, period, status, active,
                                   page=arg_int("page", 1, minimum=1, maximum=100000), per_page=PER_PAGE)
    recent = services.recent_measurements([o.id for o in page.items])
    sparks = {o.id: services.sparkline(o, recent[o.id]) for o in page.items}
    filters = dict(q=q, department=department_id, process=process_id, period=period, status=status,
                   active=active_filter)
    return render(
        "objectives/index.html", "objectives/_partials/_objective_table.html",
        page=page, recent=recent, sparks=sparks, filters=filters,
        departments=_department_choices(_("All departments")), processes=_process_choices(_("All processes")),
        period_labels=PERIOD_LABELS, status_labels=STATUS_LABELS, no_data=NO_DATA,
        can_manage=services.can_manage(acting_user()),
        label_of=lambda o, m: services.period_label(o.period, m.period_start),
    )


# -- objectives -----------------------------------------------------------------------------------
@bp.route("/new", methods=["GET", "POST"])
def objective_new():
    """Create an objective (administrators and quality managers)."""
    services.ensure_can_manage(acting_user())
    form = _prepare_objective_form(ObjectiveForm())
    objective = submit(form, lambda: services.create_objective(acting_user(), _objective_data(form)))
    if objective is not FAILED:
        flash(_("Objective “%(name)s” created.", name=objective.name), "success")
        return redirect_to(url_for("objectives.detail", objective_id=objective.id))
    return render("objectives/objective_new.html", "objectives/_partials/_objective_form.html",
                  form=form, objective=None, units=UNITS), form_status(form)


@bp.route("/<int:objective_id>")
def detail(objective_id: int):
    """An objective: its definition, status, sparkline and all its values; the entry form for those who may."""
    objective = services.get_objective(objective_id)
    return render("objectives/detail.html", "objectives/_partials/_detail.html", **_detail_context(objective))


@bp.route("/<int:objective_id>/edit", methods=["GET", "POST"])
def objective_edit(objective_id: int):
    """Edit an objective (administrators and quality managers)."""
    objective = services.get_objective(objective_id)
    services.ensure_can_manage(acting_user(), objective)
    if request.method == "GET":
        form = ObjectiveForm(obj=objective)
        form.target.data = services.format_decimal(objective.target)
        form.tolerance_percent.data = services.format_decimal(objective.tolerance_percent)
    else:
        form = ObjectiveForm()
    _prepare_objective_form(form, objective)
    if submit(form, lambda: services.update_objective(acting_user(), objective, _objective_data(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("objectives.detail", objective_id=objective.id))
    if form.errors or form.form_errors:
        objective = services.get_objective(objective_id)  # as it is after the rollback
    status = form_status(form)
    return render("objectives/objective_edit.html", "objectives/_partials/_objective_form.html",
                  form=form, objective=objective, units=UNITS), status


@bp.route("/<int:objective_id>/active", methods=["POST"])
def objective_set_active(objective_id: int):
    """Deactivate or reactivate an objective (never a delete once it has values)."""
    objective = services.get_objective(objective_id)
    ConfirmForm()  # CSRF is checked globally; the form documents the contract
    flash_outcome(perform(lambda: services.set_objective_active(acting_user(), objective, request.form.get("active") == "1")),
                  _("Saved."))
    return redirect_to(url_for("objectives.detail", objective_id=objective_id))


@bp.route("/<int:objective_id>/delete", methods=["POST"])
def objective_delete(objective_id: int):
    """Delete an objective created by mistake; one with values must be deactivated instead."""
    objective = services.get_objective(objective_id)
    name = objective.name
    if flash_outcome(perform(lambda: services.delete_objective(acting_user(), objective)),
                     _("Objective “%(name)s” deleted.", name=name)).failed:
        return redirect_to(url_for("objectives.detail", objective_id=objective_id))
    return redirect_to(url_for("objectives.index"))


# -- measurements ---------------------------------------------------------------------------------
@bp.route("/<int:objective_id>/measurements", methods=["GET", "POST"])
def measure(objective_id: int):
    """Enter (or correct) the value of a period. An htmx POST answers with the refreshed measurements panel
    (422 with the form's errors in it); a GET with ``?period=`` prefills that period's value."""
    objective = services.get_objective(objective_id)
    services.ensure_can_measure(acting_user(), objective)
    if request.method == "GET":
        # ?period= from a "Correct" link, ?period_start= when the form's period select changes
        form = _measurement_form(objective, request.args.get("period") or request.args.get("period_start"))
        return render("objectives/measure.html", "objectives/_partials/_measurement_form.html",
                      **_detail_context(objective, form))
    form = _measurement_form(objective, formdata=request.form)
    measurement = submit(form, lambda: services.record_measurement(acting_user(), objective, form.period_start.data,
                                                                    form.value.data, form.note.data or "",
                                                                    reason=form.reason.data or ""))
    saved = measurement is not FAILED
    if saved:
        if not wants_partial():
            label = services.period_label(objective.period, measurement.period_start)
            flash(_("Value for %(period)s saved.", period=label), "success")
            return redirect_to(url_for("objectives.detail", objective_id=objective.id))
        form = None
    elif form.errors or form.form_errors:
        objective = services.get_objective(objective_id)  # as it is after the rollback
    status = 422 if form is not None and (form.errors or form.form_errors) else 200
    notice = _("Saved.") if saved else None
    return render("objectives/measure.html", "objectives/_partials/_measurements.html",
                  **_detail_context(objective, form, notice=notice)), status
