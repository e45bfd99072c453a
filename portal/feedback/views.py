"""客户意见 for staff: the list of what came in (by department), one item, and 多渠道投诉登记 (a complaint or
praise received by phone, letter, email, 12345, social media or in person). The triage queues (issue 12)
build on these."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, request, url_for
from flask_babel import gettext as _

from portal.core.forms import ConfirmForm
from portal.core.i18n import portal_tz
from portal.core.parsing import parse_date
from portal.feedback import access, bp, codes, services
from portal.feedback.forms import StaffFeedbackForm
from portal.feedback.models import (CHANNEL_LABELS, KIND_LABELS, RATING_LABELS, RATINGS, SPAM_LABELS, STATUS_LABELS)
from portal.web.access import acting_user
from portal.web.htmx import arg_int, redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit

RATING_BANDS = ("negative", "neutral", "positive", "none")
SPAM_FILTERS = ("only", "all")


def _day(name: str, end: bool = False) -> datetime | None:
    day = parse_date(request.args.get(name))
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if end else day, time(), portal_tz())


def _filters() -> services.FeedbackFilters:
    args = request.args
    return services.FeedbackFilters(
        department_id=arg_int("department") or None, service_point_id=arg_int("point") or None,
        channel=args.get("channel", "") if args.get("channel") in CHANNEL_LABELS else "",
        kind=args.get("kind", "") if args.get("kind") in KIND_LABELS else "",
        rating=args.get("rating", "") if args.get("rating") in RATING_BANDS else "",
        spam=args.get("spam", "") if args.get("spam") in SPAM_FILTERS else "",
        date_from=_day("from"), date_to=_day("to", end=True), before=arg_int("before") or None)


@bp.route("/")
def index():
    """客户意见: what came in, newest first, for the departments the reader may see."""
    actor = acting_user()
    filters = _filters()
    page = services.list_feedback(actor, filters)
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render("feedback/index.html", "feedback/_partials/_list.html", page=page, filters=filters, args=args,
                  departments=services.department_choices(actor), points=services.point_choices(),
                  channel_labels=CHANNEL_LABELS, kind_labels=KIND_LABELS, rating_labels=RATING_LABELS,
                  may_see_staff=lambda fb: access.may_see_staff(actor, fb))


def _staff_form(form: StaffFeedbackForm) -> StaffFeedbackForm:
    form.service_point_id.choices = [("", _("— none —"))] + services.point_choices()
    form.department_id.choices = [("", _("— choose —"))] + services.all_department_choices()
    form.rating.choices = [("", _("— none —"))] + [(r, RATING_LABELS[r]) for r in RATINGS]
    return form


@bp.route("/new", methods=["GET", "POST"])
def new():
    """多渠道投诉登记: record what a customer told us elsewhere; it gets a 查询码 to give them."""
    actor = acting_user()
    form = _staff_form(StaffFeedbackForm())
    if request.method == "GET":
        form.request_key.data = services.new_request_key()
        form.department_id.data = actor.department_id
    received = submit(form, lambda: services.record_staff_entry(actor, services.StaffEntry(
        channel=form.channel.data or "", kind=form.kind.data or "", department_id=form.department_id.data,
        service_point_id=form.service_point_id.data, rating=form.rating.data, comment=form.comment.data or "",
        contact_name=form.contact_name.data or "", contact_phone=form.contact_phone.data or "",
        contact_email=form.contact_email.data or "", consent=bool(form.consent.data),
        request_key=form.request_key.data or "")))
    if received is not FAILED:
        flash(_("Recorded. Give the customer the follow-up code %(code)s: with it they can see the reply at %(url)s.",
                code=codes.display_query_code(received.query_code), url=url_for("kiosk.lookup", _external=True)),
              "success")
        return redirect_to(url_for("feedback.detail", feedback_id=received.feedback.id))
    return render("feedback/new.html", "feedback/_partials/_staff_form.html", form=form), form_status(form)


@bp.route("/<int:feedback_id>")
def detail(feedback_id: int):
    """One item: what the customer said, where, when and how; the clerk only for their head and quality managers."""
    actor = acting_user()
    feedback = services.get_feedback(actor, feedback_id)
    code = services.query_code_for(actor, feedback)
    return render("feedback/detail.html", "feedback/_partials/_detail.html", feedback=feedback,
                  show_staff=access.may_see_staff(actor, feedback), may_moderate=access.may_moderate(actor, feedback),
                  query_code=codes.display_query_code(code) if code else "", confirm=ConfirmForm(),
                  channel_labels=CHANNEL_LABELS, kind_labels=KIND_LABELS, rating_labels=RATING_LABELS,
                  spam_labels=SPAM_LABELS, status_labels=STATUS_LABELS)


@bp.route("/<int:feedback_id>/spam", methods=["POST"])
def spam(feedback_id: int):
    """Mark as spam (hidden from the queue, kept) or restore it."""
    actor = acting_user()
    feedback = services.get_feedback(actor, feedback_id)
    flag = request.form.get("spam") == "1"
    if ConfirmForm().validate_on_submit():
        flash_outcome(perform(lambda: services.set_spam(actor, feedback, flag)),
                      _("Marked as spam: hidden from the queue, kept.") if flag else _("Restored to the queue."))
    return redirect_to(url_for("feedback.detail", feedback_id=feedback.id))


@bp.route("/<int:feedback_id>/query-code", methods=["POST"])
def reissue_code(feedback_id: int):
    """A new 查询码 for a customer who lost theirs (the old one stops working)."""
    actor = acting_user()
    feedback = services.get_feedback(actor, feedback_id)
    if ConfirmForm().validate_on_submit():
        outcome = perform(lambda: services.reissue_query_code(actor, feedback))
        flash_outcome(outcome, _("New follow-up code: %(code)s. The old one no longer works.",
                                 code=codes.display_query_code(outcome.value or "")))
    return redirect_to(url_for("feedback.detail", feedback_id=feedback.id))
