"""The working-day calendar for administrators: a month at a time, with overrides."""
from __future__ import annotations


from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.core.forms import ConfirmForm
from portal.core.types import utcnow
from portal.workcal.forms import HolidayListForm, OverrideForm
from portal.core.roles import ADMIN
from portal.web.access import acting_user, require_roles
from portal.web.htmx import redirect_to, render
from portal.web.imports import apply_upload, preview_upload
from portal.web.submit import FAILED, submit
from portal.workcal import bp, holidays, services

bp.before_request(require_roles(ADMIN))


def _month_args() -> tuple[int, int]:
    today = utcnow().astimezone(services.portal_tz()).date()
    year = request.args.get("year", today.year, type=int)
    month = request.args.get("month", today.month, type=int)
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        year, month = today.year, today.month
    return year, month


@bp.route("/")
def month():
    """One month: each day's status, whether it comes from the library, an override or the weekend rule."""
    year, month_ = _month_args()
    form = OverrideForm()
    return _page(year, month_, form)


def _page(year: int, month_: int, form: OverrideForm, status: int = 200):
    days = services.month_view(year, month_)
    prev = (year - 1, 12) if month_ == 1 else (year, month_ - 1)
    nxt = (year + 1, 1) if month_ == 12 else (year, month_ + 1)
    leading = days[0]["day"].weekday()
    return render("workcal/month.html", "workcal/_partials/_month.html", days=days, year=year, month=month_,
                  prev=prev, nxt=nxt, leading=leading, form=form,
                  covered=services.year_covered(year),
                  uncovered=services.uncovered_years(services.local_today())), status


@bp.route("/overrides", methods=["POST"])
def set_override():
    """Set (or, with ``delete``, remove) the override for one day."""
    form = OverrideForm()
    year, month_ = _month_args()
    day = submit(form, lambda: services.apply_override(current_user, form.day.data, form.is_workday.data == "1",
                                                       form.note.data or "", delete=bool(request.form.get("delete"))))
    if day is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("workcal.month", year=day.year, month=day.month))
    return _page(year, month_, form, 422)


@bp.route("/holidays", methods=["GET", "POST"])
def holiday_list():
    """Enter a year's statutory holidays and make-up workdays in one go; preview before anything is written."""
    form = HolidayListForm()
    page, partial = "workcal/holidays.html", "workcal/_partials/_holiday_preview.html"
    if request.method == "POST" and form.file.data:
        return preview_upload(form, holidays.upload_list, page, partial)
    plan = pending = None
    status = 200
    if request.method == "POST":
        result = submit(form, lambda: holidays.preview_text(acting_user(), form.lines.data or ""))
        if result is FAILED:
            status = 422
        else:
            pending, plan = result
            status = 200 if plan.valid else 422
    return render(page, partial, form=form, plan=plan, pending=pending, confirm=ConfirmForm(),
                  uncovered=services.uncovered_years(services.local_today()),
                  entered=services.entered_years()), status


@bp.route("/holidays/<int:import_id>/apply", methods=["POST"])
def holiday_apply(import_id: int):
    """Write a previewed holiday list. A second click changes nothing."""
    return apply_upload(
        holidays.apply_list, import_id, retry_url=url_for("workcal.holiday_list"),
        done_url=url_for("workcal.holiday_list"),
        done_message=lambda pending, plan: _(
            "Holiday list for %(year)d saved: %(changed)d days changed, %(unchanged)d unchanged.", **pending.result),
    )
