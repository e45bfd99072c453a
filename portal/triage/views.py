"""工单: the queue pages. The list with its filters, status counts (polled) and bulk actions; one ticket (a page, or
a partial loaded into the list's side panel) with its history and actions. Every route finds its tickets through
the services, which answer NotFound for another department's queue."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_pgettext

from portal.core.forms import ConfirmForm
from portal.core.i18n import portal_tz
from portal.core.parsing import parse_id
from portal.feedback import access as feedback_access
from portal.feedback.services import all_department_choices, labels, point_choices
from portal.triage import bp, queue, reply, services, sla
from portal.triage.registry import ticket_panels_for
from portal.triage.forms import (CALLBACK_LABELS, AssignForm, BulkForm, CallbackForm, FlagForm, MergeForm, NoteForm,
                                 ReassignForm, ReplyForm, StatusForm)
from portal.triage.models import PRIORITY_LABELS, STATUS_LABELS, STATUSES
from portal.web.access import acting_user
from portal.web.htmx import arg_int, is_safe_next, redirect_to, render, wants_partial
from portal.web.ratelimit import limits_reads, reads_per_user
from portal.web.submit import FAILED, flash_outcome, perform, submit

#: The status buttons' words, by the status they lead to.
ACTION_LABELS = {"accepted": lazy_pgettext("ticket action", "Accept"),
                 "in_progress": lazy_pgettext("ticket action", "Start"),
                 "awaiting_customer": lazy_pgettext("ticket action", "Await the customer"),
                 "resolved": lazy_pgettext("ticket action", "Resolve"),
                 "closed": lazy_pgettext("ticket action", "Close")}
#: The queue's reads (list, badges, a ticket) count together per user (PORTAL_QUEUE_READ_LIMIT).
queue_reads = reads_per_user("PORTAL_QUEUE_READ_LIMIT", "queue-reads")


SLA_FILTER_LABELS = {queue.SLA_BREACHED: lazy_pgettext("sla state", "Breached"),
                     queue.SLA_DUE_TODAY: lazy_pgettext("sla state", "Due today"),
                     queue.SLA_ON_TRACK: lazy_pgettext("sla state", "On track")}


def _filters() -> queue.QueueFilters:
    args = request.args
    status = args.get("status", "open")
    assignee = args.get("assignee", "")
    return queue.QueueFilters(
        department_id=arg_int("department") or None,
        status=status if status in STATUSES or status in ("open", "all") else "open",
        priority=args.get("priority", "") if args.get("priority") in PRIORITY_LABELS else "",
        service_point_id=arg_int("point") or None,
        assignee=assignee if assignee in (queue.ASSIGNEE_ME, queue.ASSIGNEE_NONE) or parse_id(assignee) else "",
        spam=args.get("spam") == "1", archived=args.get("archived") == "1", cursor=(args.get("after") or "")[:40],
        sla=args.get("sla", "") if args.get("sla") in queue.SLA_STATES else "")


def _list_context(actor, filters: queue.QueueFilters) -> dict:
    page = queue.list_queue(actor, filters)
    departments = queue.visible_departments(actor)
    member_departments = [filters.department_id] if filters.department_id else [d.id for d in departments]
    bulk = BulkForm()
    members = queue.member_choices(member_departments if len(member_departments) <= 1 else ())
    bulk.assignee_id.choices = [("", _("— nobody —"))] + members
    return dict(page=page, counts=page.counts, filters=filters, args=filters.args(), departments=departments,
                dept_names={d.id: d.name for d in departments}, points=point_choices(),
                members=members, bulk=bulk, status_labels=STATUS_LABELS, priority_labels=PRIORITY_LABELS,
                rating_labels=labels()["rating"], bulk_max=queue.BULK_MAX,
                sla_labels=SLA_FILTER_LABELS)


@bp.route("/")
@limits_reads
@queue_reads
def index():
    """工单: the reader's queues, newest first, filtered; a page at a time."""
    actor = acting_user()
    filters = _filters()
    context = _list_context(actor, filters)
    return render("triage/index.html", "triage/_partials/_list.html", **context)


@bp.route("/counts")
@limits_reads
@queue_reads
def counts():
    """The status badges (polled every 30 s by the list page)."""
    actor = acting_user()
    filters = _filters()
    return render("triage/counts.html", "triage/_partials/_counts.html",
                  counts=queue.status_counts(actor, filters), filters=filters, args=filters.args(),
                  status_labels=STATUS_LABELS)


@bp.route("/bulk", methods=["POST"])
def bulk():
    """Assign or close up to 100 tickets of one queue at once."""
    actor = acting_user()
    form = BulkForm()
    form.assignee_id.choices = []
    if form.validate_on_submit():
        ids = form.ticket_ids()
        if form.action.data == "close":
            outcome = perform(lambda: queue.bulk_close(actor, ids))
            flash_outcome(outcome, _("Closed %(n)d tickets.", n=outcome.value or 0))
        else:
            outcome = perform(lambda: queue.bulk_assign(actor, ids, form.assignee_id.data))
            flash_outcome(outcome, _("Assigned %(n)d tickets.", n=outcome.value or 0))
    else:
        flash(_("The form has expired. Reload the page and try again."), "danger")
    return redirect_to(request.referrer if _same_queue(request.referrer) else url_for("queue.index"))


def _same_queue(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    return parts.path.startswith("/queue") and is_safe_next(path)


# -- one ticket -----------------------------------------------------------------------------------
def _forms(actor, ticket, **given) -> dict:
    forms = dict(status=StatusForm(), assign=AssignForm(), reassign=ReassignForm(), note=NoteForm(), reply=ReplyForm(),
                 callback=CallbackForm(), merge=MergeForm(), flag=FlagForm())
    forms.update(given)
    if "note" not in given:
        forms["note"].request_key.data = services.new_request_key()
    if "reply" not in given:
        forms["reply"].request_key.data = services.new_request_key()
    if "callback" not in given:
        forms["callback"].request_key.data = services.new_request_key()
        forms["callback"].called_at.data = datetime.now(portal_tz()).replace(second=0, microsecond=0, tzinfo=None)
    forms["assign"].assignee_id.choices = [("", _("— nobody —"))] + queue.member_choices([ticket.department_id])
    forms["assign"].assignee_id.data = forms["assign"].assignee_id.data or ticket.assignee_id
    forms["reassign"].department_id.choices = [("", _("— choose —"))] + [
        (d_id, name) for d_id, name in all_department_choices() if d_id != ticket.department_id]
    return forms


def _detail(actor, ticket_id: int, code: int = 200, **given):
    ticket = services.get_ticket(actor, ticket_id)
    feedback = ticket.feedback
    countdown = sla.countdown(ticket) if ticket.is_open else None
    transitions = services.TRANSITIONS.get(ticket.status, ())
    context = dict(
        ticket=ticket, feedback=feedback, history=queue.ticket_history(ticket), callbacks=services.callbacks_of(ticket),
        may_lead=services.may_lead(actor, ticket), show_staff=feedback_access.may_see_staff(actor, feedback),
        show_contact=feedback.has_contact, wants_email=reply.wants_email(feedback), sla=countdown,
        transitions=[(to, ACTION_LABELS[to] if to != "in_progress" or ticket.status != "resolved"
                      else lazy_pgettext("ticket action", "Reopen")) for to in transitions],
        status_labels=STATUS_LABELS, priority_labels=PRIORITY_LABELS,
        rating_labels=labels()["rating"], channel_labels=labels()["channel"], kind_labels=labels()["kind"],
        callback_labels=CALLBACK_LABELS, confirm=ConfirmForm(), panels=ticket_panels_for(ticket, actor),
        **_forms(actor, ticket, **given))
    return render("triage/detail.html", "triage/_partials/_detail.html", **context), code


@bp.route("/<int:ticket_id>")
@limits_reads
@queue_reads
def detail(ticket_id: int):
    """One ticket: the feedback, its history and what can be done with it."""
    return _detail(acting_user(), ticket_id)


def _done(actor, ticket_id: int, result, form_name: str, form, message: str):
    """After an action: the ticket again (the side panel's partial, or a redirect to its page), or the form with
    its errors (422)."""
    if result is FAILED:
        if not form.errors and not form.form_errors:
            abort(400)
        return _detail(actor, ticket_id, 422, **{form_name: form})
    flash(message, "success")
    if wants_partial():
        return _detail(actor, ticket_id)
    return redirect_to(url_for("queue.detail", ticket_id=ticket_id))


@bp.route("/<int:ticket_id>/status", methods=["POST"])
def status(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = StatusForm()
    result = submit(form, lambda: reply.change_status(actor, ticket_id, form.to.data))
    return _done(actor, ticket_id, result, "status", form, _("Status changed."))


@bp.route("/<int:ticket_id>/assign", methods=["POST"])
def assign(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = AssignForm()
    form.assignee_id.choices = []
    result = submit(form, lambda: services.assign(actor, ticket_id, form.assignee_id.data))
    return _done(actor, ticket_id, result, "assign", form, _("Assignee saved."))


@bp.route("/<int:ticket_id>/reassign", methods=["POST"])
def reassign(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = ReassignForm()
    form.department_id.choices = []
    result = submit(form, lambda: services.reassign(actor, ticket_id, form.department_id.data, form.reason.data))
    if result is not FAILED:  # it left the actor's queue, perhaps: back to the list
        flash(_("Moved to another department's queue."), "success")
        return redirect_to(url_for("queue.index"))
    return _done(actor, ticket_id, result, "reassign", form, "")


@bp.route("/<int:ticket_id>/note", methods=["POST"])
def note(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = NoteForm()
    result = submit(form, lambda: services.add_note(actor, ticket_id, form.text.data,
                                                    request_key=form.request_key.data))
    return _done(actor, ticket_id, result, "note", form, _("Note added."))


@bp.route("/<int:ticket_id>/reply", methods=["POST"])
def reply_to_customer(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = ReplyForm()
    result = submit(form, lambda: reply.reply(actor, ticket_id, form.text.data, request_key=form.request_key.data))
    return _done(actor, ticket_id, result, "reply", form,
                 _("Reply saved: the customer sees it with their follow-up code."))


@bp.route("/<int:ticket_id>/callback", methods=["POST"])
def callback(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = CallbackForm()
    called_at = form.called_at.data.replace(tzinfo=portal_tz()) if form.called_at.data else None
    result = submit(form, lambda: services.record_callback(
        actor, ticket_id, called_at=called_at, outcome=form.outcome.data, note=form.note.data or "",
        request_key=form.request_key.data))
    return _done(actor, ticket_id, result, "callback", form, _("Call-back recorded."))


@bp.route("/<int:ticket_id>/merge", methods=["POST"])
def merge(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = MergeForm()
    result = submit(form, lambda: services.merge(actor, ticket_id, form.into_id.data))
    return _done(actor, ticket_id, result, "merge", form, _("Merged: this ticket is closed as a duplicate."))


@bp.route("/<int:ticket_id>/spam", methods=["POST"])
def spam(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = FlagForm()
    flag = form.value.data == "1"
    result = submit(form, lambda: services.set_spam(actor, ticket_id, flag))
    return _done(actor, ticket_id, result, "flag", form,
                 _("Marked as spam: hidden from the queue, kept.") if flag else _("Restored to the queue."))


@bp.route("/<int:ticket_id>/archive", methods=["POST"])
def archive(ticket_id: int):
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = FlagForm()
    flag = form.value.data == "1"
    result = submit(form, lambda: services.set_archived(actor, ticket_id, flag))
    return _done(actor, ticket_id, result, "flag", form,
                 _("Archived.") if flag else _("Taken out of the archive."))
