"""The incidents' pages (a burst of 差评 handled as one) and the queues' settings (SLA policies, routing rules), on
the queue blueprint. Thin: the services find every incident through the actor's queues (NotFound for another
department's) and check the settings' managers (PermissionDenied for anyone else)."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _

from portal.audit.registry import action_label
from portal.core.forms import ConfirmForm
from portal.feedback.services import labels
from portal.triage import bp, incidents, queue, services, settings, sla
from portal.triage.admin_forms import (IncidentAssignForm, IncidentCloseForm, IncidentNoteForm, IncidentReplyForm,
                                       RoutingRuleForm, SlaPolicyForm)
from portal.triage.models import PRIORITY_LABELS, STATUS_LABELS
from portal.triage.registry import incident_panels_for
from portal.web.access import acting_user
from portal.web.htmx import redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


# -- incidents ------------------------------------------------------------------------------------
@bp.route("/incidents")
def incident_list():
    """事件: bursts of 差评 in the reader's queues, open ones first, then those closed in the last 30 days."""
    listing = incidents.list_incidents(acting_user())
    return render("triage/incidents.html", "triage/_partials/_incidents.html", listing=listing)


def _incident_forms(actor, incident, **given) -> dict:
    forms = dict(assign_form=IncidentAssignForm(), note_form=IncidentNoteForm(), reply_form=IncidentReplyForm(),
                 close_form=IncidentCloseForm())
    forms.update(given)
    for name in ("note_form", "reply_form"):
        if name not in given:
            forms[name].request_key.data = services.new_request_key()
    members = queue.member_choices([incident.department_id])
    if not incidents.may_lead(actor, incident):
        members = [(i, n) for i, n in members if i == actor.id]
    forms["assign_form"].assignee_id.choices = [("", _("— nobody —"))] + members
    return forms


def _incident_page(actor, incident_id: int, code: int = 200, **given):
    incident = incidents.get_incident(actor, incident_id)
    tickets = incidents.tickets_of(actor, incident_id)
    context = dict(incident=incident, tickets=tickets, department_name=incidents.department_name(incident),
                   open_tickets=incidents.open_tickets(actor, incident), may_lead=incidents.may_lead(actor, incident),
                   history=incidents.history(actor, incident_id), panels=incident_panels_for(incident, actor),
                   status_labels=STATUS_LABELS, priority_labels=PRIORITY_LABELS, rating_labels=labels()["rating"],
                   action_label=action_label, **_incident_forms(actor, incident, **given))
    return render("triage/incident.html", "triage/_partials/_incident.html", **context), code


@bp.route("/incidents/<int:incident_id>")
def incident(incident_id: int):
    """One incident: its point and span, its tickets and their statuses, and the actions on all of them."""
    return _incident_page(acting_user(), incident_id)


def _incident_done(actor, incident_id: int, result, form_name: str, form, message: str):
    if result is FAILED:
        if not form.errors and not form.form_errors:
            abort(400)
        return _incident_page(actor, incident_id, 422, **{form_name: form})
    if result.replayed:
        flash(_("This was done already (the form was sent twice)."), "info")
    else:
        flash(message, "success")
    if result.refused:
        flash(_("Left open: %(tickets)s", tickets="；".join(f"#{t.id} {why}" for t, why in result.refused)), "warning")
    if wants_partial():
        return _incident_page(actor, incident_id)
    return redirect_to(url_for("queue.incident", incident_id=incident_id))


@bp.route("/incidents/<int:incident_id>/assign", methods=["POST"])
def incident_assign(incident_id: int):
    actor = acting_user()
    incidents.get_incident(actor, incident_id)
    form = IncidentAssignForm()
    form.assignee_id.choices = []
    result = submit(form, lambda: incidents.assign_incident(actor, incident_id, form.assignee_id.data))
    done = len(result.done) if result is not FAILED else 0
    return _incident_done(actor, incident_id, result, "assign_form", form,
                          _("Assigned %(n)d tickets of the incident.", n=done) if done
                          else _("Nothing to change: every open ticket has this assignee already."))


def _text_action(incident_id: int, to_customer: bool):
    """A note on every open ticket, or a reply to every customer: one text, one form key."""
    actor = acting_user()
    incidents.get_incident(actor, incident_id)
    form = IncidentReplyForm() if to_customer else IncidentNoteForm()
    result = submit(form, lambda: incidents.note_incident(actor, incident_id, form.text.data, to_customer=to_customer,
                                                          request_key=form.request_key.data))
    done = len(result.done) if result is not FAILED else 0
    message = (_("Reply saved for %(n)d customers: each sees it with their follow-up code.", n=done) if to_customer
               else _("Note added to %(n)d tickets.", n=done))
    return _incident_done(actor, incident_id, result, "reply_form" if to_customer else "note_form", form, message)


@bp.route("/incidents/<int:incident_id>/note", methods=["POST"])
def incident_note(incident_id: int):
    return _text_action(incident_id, to_customer=False)


@bp.route("/incidents/<int:incident_id>/reply", methods=["POST"])
def incident_reply(incident_id: int):
    return _text_action(incident_id, to_customer=True)


@bp.route("/incidents/<int:incident_id>/close", methods=["POST"])
def incident_close(incident_id: int):
    actor = acting_user()
    incidents.get_incident(actor, incident_id)
    form = IncidentCloseForm()
    result = submit(form, lambda: incidents.close_incident(actor, incident_id, form.note.data or ""))
    if result is not FAILED and result.incident.closed_at is not None:
        message = _("Incident closed: %(n)d tickets resolved.", n=len(result.done))
    else:
        message = _("%(n)d tickets resolved; the incident stays open until the others are.",
                    n=len(result.done) if result is not FAILED else 0)
    return _incident_done(actor, incident_id, result, "close_form", form, message)


# -- SLA policies ---------------------------------------------------------------------------------
def _sla_page(actor, code: int = 200, **given):
    overview = settings.sla_overview(actor)
    rows = []
    for row in overview.rows:
        policy = row.policy
        form = given.get(policy.priority) or SlaPolicyForm(
            prefix=policy.priority, first_response_minutes=policy.first_response_minutes,
            resolution_minutes=policy.resolution_minutes, warn_at=", ".join(str(t) for t in policy.warn_at))
        rows.append((row, form))
    return render("triage/settings_sla.html", "triage/_partials/_settings_sla.html", overview=overview, rows=rows,
                  priority_labels=PRIORITY_LABELS, duration=sla.format_duration), code


@bp.route("/settings/sla")
def sla_settings():
    """工单时限: the targets of each priority in working minutes, the warnings, the escalation and the working
    hours the clock counts (quality managers and administrators)."""
    return _sla_page(acting_user())


@bp.route("/settings/sla/<priority>", methods=["POST"])
def save_sla(priority: str):
    actor = acting_user()
    settings.check_priority(actor, priority)
    form = SlaPolicyForm(prefix=priority)
    result = submit(form, lambda: settings.save_sla_policy(
        actor, priority, first_response_minutes=form.first_response_minutes.data,
        resolution_minutes=form.resolution_minutes.data, warn_at_text=form.warn_at.data or ""))
    if result is FAILED:
        return _sla_page(actor, form_status(form) if form.errors or form.form_errors else 400, **{priority: form})
    flash(_("Saved: the %(priority)s priority's targets apply to tickets received from now on.",
            priority=PRIORITY_LABELS[priority]), "success")
    return redirect_to(url_for("queue.sla_settings"))


# -- routing rules --------------------------------------------------------------------------------
def _routing_page(actor, form: RoutingRuleForm | None = None, code: int = 200):
    overview = settings.routing_overview(actor)
    form = form or RoutingRuleForm()
    form.category.choices = [("", _("— choose —"))] + [(c, c) for c in overview.categories]
    form.department_id.choices = [("", _("— choose —"))] + overview.departments
    return render("triage/settings_routing.html", "triage/_partials/_settings_routing.html", overview=overview,
                  form=form, confirm=ConfirmForm()), code


@bp.route("/settings/routing")
def routing_settings():
    """分派规则: which feedback category goes to which department's queue, and how routing decides."""
    return _routing_page(acting_user())


@bp.route("/settings/routing", methods=["POST"])
def add_routing_rule():
    actor = acting_user()
    settings.require_manager(actor)
    form = RoutingRuleForm()
    form.department_id.choices = []
    result = submit(form, lambda: settings.add_rule(actor, form.category.data, form.department_id.data))
    if result is FAILED:
        return _routing_page(actor, form, form_status(form) if form.errors or form.form_errors else 400)
    flash(_("Saved: feedback of %(category)s goes to this queue from now on.", category=result.category), "success")
    return redirect_to(url_for("queue.routing_settings"))


@bp.route("/settings/routing/<int:rule_id>/delete", methods=["POST"])
def delete_routing_rule(rule_id: int):
    actor = acting_user()
    settings.require_manager(actor)
    outcome = perform(lambda: settings.delete_rule(actor, rule_id))
    if not outcome.failed and outcome.value is None:
        flash(_("The rule had been deleted already."), "info")
    else:
        flash_outcome(outcome, _("Rule deleted."))
    return redirect_to(url_for("queue.routing_settings"))
