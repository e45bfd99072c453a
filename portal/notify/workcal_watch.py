"""Warn administrators when the working-day calendar does not know a year's holidays (issue 8, item 14).

The calendar sits below notify, so the warning lives here: a daily job asks
``portal.workcal.services.uncovered_years`` and notifies every active administrator, at most once per day
and year (the notification's dedupe key), until the year's list is entered.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.core.roles import ADMIN
from portal.extensions import db
from portal.notify.services import notify_many
from portal.org.models import User, UserRole
from portal.workcal import services as workcal

KIND = "calendar.coverage"
LINK = "/admin/calendar/holidays"


def active_admins() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == ADMIN, User.active.is_(True)).order_by(User.id)
    ))


def warn_uncovered_years(today: date) -> dict[int, int]:
    """Notify the administrators about each year not covered on ``today``; {year: notifications raised}."""
    years = workcal.uncovered_years(today)
    if not years:
        return {}
    admins = active_admins()
    raised = {}
    for year in years:
        title = _("Working-day calendar: the holidays of %(year)d are missing", year=year)
        body = _("The holiday library does not cover %(year)d, so working days in %(year)d are counted as "
                 "Monday to Friday, through Spring Festival. Enter the State Council's notice on the holidays "
                 "and make-up workdays of %(year)d on 工作日历.", year=year)
        notes = notify_many(admins, KIND, title, body, LINK, dedupe_key=f"calendar-coverage:{year}:{today.isoformat()}")
        raised[year] = len(notes)
    return raised
