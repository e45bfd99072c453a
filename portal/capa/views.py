"""纠正预防措施: the list of the CAPAs the reader may see, the new-CAPA form (by hand, or prefilled from a ticket,
an incident or a missed objective), and one CAPA's page: problem, root cause, actions, the effectiveness check and
the quality manager's signed closure. Every route finds its CAPA through the services (NotFound outside what the
reader may see)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal.capa import bp, services, sources
from portal.capa.forms import ActionForm, CapaForm, CloseForm, CompleteForm, RootCauseForm
from portal.capa.models import CAUSE_LABELS, CLOSED, EFFECTIVENESS_LABELS, SOURCES, STATUS_LABELS
from portal.core.forms import ConfirmForm
from portal.core.parsing import parse_id
from portal.esign.services import MEANINGS, signatures_for
from portal.web.access import acting_user
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


def _filters() -> services.ListFilters:
    status = request.args.get("status", "active")
    return services.ListFilters(status=status if status in services.STATUS_FILTERS else "active",
                                department_id=arg_int("department") or None, mine=request.args.get("mine") == "1")


@bp.route("/")
def index():
    """纠正预防措施: the CAPAs the reader may see, newest first, filtered by status, department and "mine"."""
    actor = acting_user()
    filters = _filters()
    pagination, rows = services.list_page(actor, filters, page=arg_int("page", 1, minimum=1))
    return render("capa/index.html", "capa/_partials/_list.html", pagination=pagination, rows=rows,
                  filters=filters, args=filters.args(), departments=services.visible_department_choices(actor),
                  status_labels=STATUS_LABELS, may_open=bool(services.department_choices(actor)))


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Open a CAPA, by hand or from its source (``?source=ticket&source_id=N``; incident; objective)."""
    actor = acting_user()
    values = request.args if request.method == "GET" else request.form
    kind = values.get("source", "")
    kind = kind if kind in SOURCES else ""
    source = sources.resolve(actor, kind, parse_id(values.get("source_id")))
    if source is not None and (capa := sources.existing(source.kind, source.id)) is not None:
        flash(_("A corrective action was already opened from this item."), "info")
        return redirect_to(url_for("capa.detail", capa_id=capa.id))
    choices = services.department_choices(actor)
    if source is None and not choices:
        abort(403)
    if request.method == "GET":
        form = CapaForm(request_key=services.new_request_key(), source=kind, source_id=source.id if source else "",
                        title=source.title if source else "", problem=source.problem if source else "",
                        department_id=source.department_id if source else None)
    else:
        form = CapaForm()
    form.department_id.choices = [("", _("— choose —"))] + choices
    capa = submit(form, lambda: services.open_from(actor, services.CapaFields(
        title=form.title.data, problem=form.problem.data, containment=form.containment.data or "",
        department_id=form.department_id.data, source=kind or "manual", source_id=source.id if source else None),
        request_key=form.request_key.data or ""))
    if capa is not FAILED:
        flash(_("Corrective action opened."), "success")
        return redirect_to(url_for("capa.detail", capa_id=capa.id))
    return render("capa/new.html", "capa/_partials/_form.html", form=form, source=source), form_status(form)


# -- one CAPA -------------------------------------------------------------------------------------
def _page(actor, capa_id: int, code: int = 200, **given):
    capa = services.get_capa(actor, capa_id)
    editor = services.may_edit(actor, capa)
    forms = dict(root=RootCauseForm().fill(capa.whys, capa.cause_category), action=ActionForm(),
                 complete=CompleteForm(), close=CloseForm(), check=ConfirmForm())
    forms.update(given)
    forms["action"].owner_id.choices = [("", _("— choose —"))] + services.owner_choices(capa) if editor else []
    people = services.users_by_id([a.owner_id for a in capa.actions] + [capa.created_by_id, capa.closed_by_id])
    context = dict(
        capa=capa, editor=editor, source=sources.link_of(actor, capa), people=people,
        today=services.local_today(), is_overdue=services.is_overdue, may_close=services.may_close(actor, capa),
        ready=services.ready_to_close(capa), closed=capa.status == CLOSED, status_labels=STATUS_LABELS,
        cause_labels=CAUSE_LABELS, min_ratings=services.MIN_RATINGS, check_days=services.CHECK_DAYS,
        meaning_label=MEANINGS[services.CLOSE_MEANING], windows=services.check_windows(capa),
        check_due=services.check_due(capa), effectiveness_labels=EFFECTIVENESS_LABELS,
        capa_point=capa.service_point.label if capa.service_point else "",
        signatures=signatures_for("capa", capa.id) if capa.close_signature_id else [], **forms)
    return render("capa/detail.html", "capa/_partials/_detail.html", **context), code


@bp.route("/<int:capa_id>")
def detail(capa_id: int):
    """One CAPA: the problem and its source, the root cause, the actions, the effectiveness check, the closure."""
    return _page(acting_user(), capa_id)


def _done(actor, capa_id: int, result, form_name: str, form, message: str):
    """After a change: the CAPA again (its partial, or a redirect to its page), or the form with its errors."""
    if result is FAILED:
        if not form.errors and not form.form_errors:
            abort(400)
        return _page(actor, capa_id, 422, **{form_name: form})
    flash(message, "success")
    if wants_partial():
        return _page(actor, capa_id)
    return redirect_to(url_for("capa.detail", capa_id=capa_id))


@bp.route("/<int:capa_id>/root-cause", methods=["POST"])
def root_cause(capa_id: int):
    actor = acting_user()
    services.get_capa(actor, capa_id)
    form = RootCauseForm()
    result = submit(form, lambda: services.set_root_cause(actor, capa_id, whys=form.whys(),
                                                          category=form.cause_category.data or None))
    return _done(actor, capa_id, result, "root", form, _("Root cause saved."))


@bp.route("/<int:capa_id>/actions", methods=["POST"])
def add_action(capa_id: int):
    actor = acting_user()
    services.get_capa(actor, capa_id)
    form = ActionForm()
    form.owner_id.choices = []
    result = submit(form, lambda: services.add_action(actor, capa_id, description=form.description.data,
                                                      owner_id=form.owner_id.data, due_on=form.due_on.data))
    return _done(actor, capa_id, result, "action", form, _("Action added."))


@bp.route("/<int:capa_id>/actions/<int:action_id>/done", methods=["POST"])
def complete_action(capa_id: int, action_id: int):
    actor = acting_user()
    services.get_action(actor, capa_id, action_id)
    form = CompleteForm()
    result = submit(form, lambda: services.complete_action(actor, action_id, form.note.data or ""))
    return _done(actor, capa_id, result, "complete", form, _("Action marked as done."))


@bp.route("/<int:capa_id>/check", methods=["POST"])
def check(capa_id: int):
    """Run a due effectiveness check now."""
    actor = acting_user()
    services.get_capa(actor, capa_id)
    ConfirmForm()
    flash_outcome(perform(lambda: services.check_now(actor, capa_id)), _("Effectiveness checked."))
    if wants_partial():
        return _page(actor, capa_id)
    return redirect_to(url_for("capa.detail", capa_id=capa_id))


@bp.route("/<int:capa_id>/close", methods=["POST"])
def close(capa_id: int):
    """The quality manager closes the CAPA with an electronic signature (password again)."""
    actor = acting_user()
    services.get_capa(actor, capa_id)
    form = CloseForm()
    # A wrong password is a SignatureRejected, which submit() commits: the attempt counts towards the lockout.
    result = submit(form, lambda: services.close(actor, capa_id, form.password.data))
    return _done(actor, capa_id, result, "close", form, _("Corrective action closed and signed."))
