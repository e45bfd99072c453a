"""差评核实整改 pages: the 差评 panel on a ticket's page (the rectification deadline, the rectification with evidence,
the appeals and the appeal form), the evidence download, the quality manager's 申诉复核 page with its signed
decisions, and the appeal rates per department. Every route finds its ticket, file or appeal through the services
in loop.py, which answer NotFound outside the actor's queues."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _

from portal.esign.services import MEANINGS
from portal.triage import bp, loop, services
from portal.triage.loop_forms import DECISION_LABELS, AppealForm, DecideForm, RectifyForm, uploads
from portal.triage.views import _done
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import redirect_to, render, wants_partial
from portal.web.submit import FAILED, submit

EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


# -- the panel on a 差评's page ------------------------------------------------------------------------
def panel_context(ticket, user) -> dict | None:
    """The 差评 panel's context (registered in hooks), or None for a ticket that is not a 差评."""
    if not ticket.negative:
        return None
    files = loop.evidence_of(user, ticket.id)
    rectify = RectifyForm(formdata=None, note=ticket.rectification_note)
    rectify.request_key.data = services.new_request_key()
    appeal = AppealForm(formdata=None)
    appeal.request_key.data = services.new_request_key()
    return dict(due=ticket.rectification_due_on, overdue=loop.is_overdue(ticket),
                evidence=[f for f in files if f.appeal_id is None],
                appeal_files={a: [f for f in files if f.appeal_id == a] for a in {f.appeal_id for f in files}},
                appeals=loop.appeals_of(user, ticket.id), may_appeal=loop.may_appeal(user, ticket),
                may_see_rates=loop.may_see_rates(user), rectify_form=rectify, appeal_form=appeal,
                grounds_labels=loop.GROUNDS_LABELS, appeal_labels=loop.APPEAL_STATUS_LABELS,
                max_files=loop.EVIDENCE_MAX_FILES)


@bp.route("/<int:ticket_id>/rectify", methods=["POST"])
def rectify(ticket_id: int):
    """整改: the rectification note and evidence files of a 差评."""
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = RectifyForm()
    result = submit(form, lambda: loop.record_rectification(actor, ticket_id, form.note.data or "",
                                                            uploads(form.files), request_key=form.request_key.data))
    return _done(actor, ticket_id, result, "rectify_form", form, _("Rectification recorded."))


@bp.route("/<int:ticket_id>/appeal", methods=["POST"])
def appeal(ticket_id: int):
    """申诉: the head of the ticket's department (or a manager) appeals the 差评 as mistaken or malicious."""
    actor = acting_user()
    services.get_ticket(actor, ticket_id)
    form = AppealForm()
    result = submit(form, lambda: loop.file_appeal(actor, ticket_id, grounds=form.grounds.data or "",
                                                   reason=form.reason.data or "", uploads=uploads(form.files),
                                                   request_key=form.request_key.data))
    return _done(actor, ticket_id, result, "appeal_form", form,
                 _("Appeal filed: the quality manager decides it."))


@bp.route("/evidence/<int:file_id>/download")
def evidence(file_id: int):
    """An evidence file, as an attachment, to those who may work its ticket only."""
    row, data = loop.evidence_file(acting_user(), file_id)
    extension = EXTENSIONS.get(row.mime_type, "bin")
    return send_download(data, row.display_name, f"evidence-{row.id}.{extension}", row.mime_type)


# -- 申诉复核 -------------------------------------------------------------------------------------------
def _review(actor, code: int = 200, failed: tuple[int, DecideForm] | None = None):
    pending, decided = loop.review(actor)
    forms = {}
    for row in pending:
        forms[row.appeal.id] = DecideForm(formdata=None, prefix=f"ap{row.appeal.id}")
    if failed is not None and failed[0] in forms:
        forms[failed[0]] = failed[1]
    return render("triage/appeals.html", "triage/_partials/_appeals.html", pending=pending, decided=decided,
                  forms=forms, meaning=MEANINGS[loop.SIGN_MEANING], grounds_labels=loop.GROUNDS_LABELS,
                  appeal_labels=loop.APPEAL_STATUS_LABELS, decision_labels=DECISION_LABELS,
                  may_see_rates=loop.may_see_rates(actor)), code


@bp.route("/appeals")
def appeals():
    """申诉复核: the appeals waiting for the quality manager's decision, and those decided lately."""
    return _review(acting_user())


@bp.route("/appeals/<int:appeal_id>/decide", methods=["POST"])
def decide(appeal_id: int):
    """Uphold or reject an appeal, signed with the password (a wrong one decides nothing)."""
    actor = acting_user()
    if not loop.may_decide(actor):
        abort(403)
    loop.get_appeal(actor, appeal_id)
    form = DecideForm(prefix=f"ap{appeal_id}")
    result = submit(form, lambda: loop.decide_appeal(actor, appeal_id, uphold=form.uphold,
                                                     note=form.note.data or "", password=form.password.data or ""))
    if result is FAILED:
        if not form.errors and not form.form_errors:
            abort(400)
        return _review(actor, 422, (appeal_id, form))
    flash(_("Appeal upheld: the rating is left out of the KPIs.") if result.status == "upheld"
          else _("Appeal rejected: the rating counts."), "success")
    if wants_partial():
        return _review(actor)
    return redirect_to(url_for("queue.appeals"))


@bp.route("/appeals/rates")
def appeal_rates():
    """Appeals filed and upheld per department (managers and department heads: every department)."""
    rates = loop.rates_for(acting_user())
    return render("triage/appeal_rates.html", "triage/_partials/_appeal_rates.html", rates=rates,
                  min_filed=loop.FLAG_MIN_FILED, share=int(loop.FLAG_UPHELD_SHARE * 100))
