"""The working-day calendar: Chinese statutory holidays and make-up workdays (调休) from the
``chinesecalendar`` library, overridden by the admin-editable ``calendar_override`` table.

Public API (used by the digest schedule and, later, by feedback SLAs)::

    is_workday(day) -> bool
    add_business_minutes(start, minutes, working_hours=None) -> datetime
    next_working_moment(start, working_hours=None) -> datetime

Times passed in and returned are timezone-aware; working hours are wall-clock times in the portal's time
zone (Asia/Shanghai). Days the library does not cover (future years) fall back to Monday–Friday unless an
override says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar
import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import ServiceError
from portal.core.i18n import portal_tz
from portal.extensions import db
from portal.core.roles import ADMIN
from portal.web.access import ensure_role
from portal.workcal.models import CalendarOverride, CalendarYear

DEFAULT_WORKING_HOURS = "09:00-12:00,13:30-17:30"


#: The library names its holidays in English; each carries its Chinese name too.
_CHINESE_HOLIDAY_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}


def holiday_label(name: str | None) -> str:
    """A holiday's name in the interface language (春节 in Chinese, Spring Festival in English)."""
    if not name:
        return ""
    return _CHINESE_HOLIDAY_NAMES.get(name, name) if str(get_locale()).startswith("zh") else name


@dataclass(frozen=True)
class WorkingHours:
    """Working periods of a day, e.g. 09:00–12:00 and 13:30–17:30."""

    periods: tuple[tuple[time, time], ...]

    @classmethod
    def parse(cls, text: str) -> "WorkingHours":
        periods = []
        try:
            for part in text.split(","):
                start, end = part.strip().split("-")
                a, b = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
                if a >= b:
                    raise ValueError(part)
                periods.append((a, b))
        except ValueError:
            raise ValueError(f"bad working hours {text!r}: use e.g. 09:00-12:00,13:30-17:30") from None
        periods.sort()
        for (a1, b1), (a2, b2) in zip(periods, periods[1:]):
            if a2 < b1:
                raise ValueError(f"overlapping working hours {text!r}")
        return cls(tuple(periods))

    @property
    def minutes_per_day(self) -> int:
        return sum((b.hour * 60 + b.minute) - (a.hour * 60 + a.minute) for a, b in self.periods)


def default_working_hours() -> WorkingHours:
    return WorkingHours.parse(current_app.config.get("PORTAL_WORKING_HOURS", DEFAULT_WORKING_HOURS))


def library_covers(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
        return True
    except NotImplementedError:
        return False


#: Where a day's status comes from (month_view's ``source``).
SOURCE_LIBRARY, SOURCE_OVERRIDE, SOURCE_FALLBACK = "library", "override", "weekend-rule"


def day_source(day: date, overrides) -> str:
    """Which rule decides ``day``: an administrator's override, the holiday library, or Monday–Friday."""
    if day in overrides:
        return SOURCE_OVERRIDE
    return SOURCE_LIBRARY if library_covers(day) else SOURCE_FALLBACK


def year_covered(year: int) -> bool:
    """Whether ``year``'s holidays are known: the library covers it, or an administrator entered its list."""
    if library_covers(date(year, 1, 1)) and library_covers(date(year, 12, 31)):
        return True
    return db.session.get(CalendarYear, year) is not None


def uncovered_years(today: date) -> list[int]:
    """The years administrators must be warned about on ``today``: this year when it is not covered, and
    from 1 November the next year when it is not."""
    years = [] if year_covered(today.year) else [today.year]
    if today >= date(today.year, 11, 1) and not year_covered(today.year + 1):
        years.append(today.year + 1)
    return years


def entered_years() -> list[CalendarYear]:
    return list(db.session.scalars(sa.select(CalendarYear).order_by(CalendarYear.year.desc())))


def local_today() -> date:
    from portal.core.types import utcnow

    return utcnow().astimezone(portal_tz()).date()


class WorkCalendar:
    """Answers is_workday for many days with one query per year (overrides are loaded per year)."""

    def __init__(self) -> None:
        self._overrides: dict[int, dict[date, bool]] = {}

    def _year(self, year: int) -> dict[date, bool]:
        if year not in self._overrides:
            rows = db.session.execute(
                sa.select(CalendarOverride.day, CalendarOverride.is_workday).where(
                    CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
                )
            ).all()
            self._overrides[year] = {d: w for d, w in rows}
        return self._overrides[year]

    def is_workday(self, day: date) -> bool:
        override = self._year(day.year).get(day)
        if override is not None:
            return override
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.weekday() < 5

    def next_working_moment(self, start: datetime, hours: WorkingHours | None = None) -> datetime:
        """``start`` itself when it falls inside working hours of a working day, else the next period start."""
        return self.add_business_minutes(start, 0, hours)

    def add_business_minutes(self, start: datetime, minutes: int, hours: WorkingHours | None = None) -> datetime:
        """The moment ``minutes`` working minutes after ``start``, counting only working hours on working days."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        hours = hours or default_working_hours()
        tz = portal_tz()
        local = start.astimezone(tz)
        remaining = minutes
        day = local.date()
        for _day in range(3660):  # ten years of days: a guard against a calendar with no working days
            if self.is_workday(day):
                for period_start, period_end in hours.periods:
                    begin = datetime.combine(day, period_start, tz)
                    end = datetime.combine(day, period_end, tz)
                    if end <= local:
                        continue
                    begin = max(begin, local)
                    available = (end - begin).total_seconds() / 60
                    if remaining <= available:
                        if remaining == 0 and begin >= end:
                            continue
                        return (begin + timedelta(minutes=remaining)).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
            local = datetime.combine(day, time.min, tz)
        raise ValueError("no working time found within ten years: check the calendar overrides")


def is_workday(day: date) -> bool:
    return WorkCalendar().is_workday(day)


def add_business_minutes(start: datetime, minutes: int, working_hours: WorkingHours | None = None) -> datetime:
    return WorkCalendar().add_business_minutes(start, minutes, working_hours)


def next_working_moment(start: datetime, working_hours: WorkingHours | None = None) -> datetime:
    return WorkCalendar().next_working_moment(start, working_hours)


# -- administration -------------------------------------------------------------------------------
def apply_override(actor, day_text: str, is_workday_: bool, note: str = "", *, delete: bool = False) -> date:
    """The calendar page's form: set (or, with ``delete``, remove) the override of the day typed as
    YYYY-MM-DD; returns the day."""
    try:
        day = date.fromisoformat((day_text or "").strip())
    except ValueError:
        raise ServiceError(("day", _("Enter a date as YYYY-MM-DD."))) from None
    if delete:
        delete_override(actor, day)
    else:
        set_override(actor, day, is_workday_, note)
    return day


def set_override(actor, day: date, is_workday_: bool, note: str = "") -> CalendarOverride:
    ensure_role(actor, ADMIN)
    note = (note or "").strip()
    if len(note) > 100:
        raise ServiceError(("note", _("The note may have at most 100 characters.")))
    row = db.session.get(CalendarOverride, day)
    before = {"is_workday": row.is_workday, "note": row.note} if row else None
    if row is None:
        row = CalendarOverride(day=day, is_workday=is_workday_, note=note, created_by_id=actor.id)
        db.session.add(row)
    else:
        row.is_workday, row.note = is_workday_, note
    db.session.flush()
    record("calendar.override_set", actor=actor, object_type="calendar_override", object_id=day.isoformat(),
           before=before, after={"is_workday": is_workday_, "note": note})
    return row


def delete_override(actor, day: date) -> None:
    ensure_role(actor, ADMIN)
    row = db.session.get(CalendarOverride, day)
    if row is None:
        return
    db.session.delete(row)
    db.session.flush()
    record("calendar.override_delete", actor=actor, object_type="calendar_override", object_id=day.isoformat(),
           before={"is_workday": row.is_workday, "note": row.note})


def month_view(year: int, month: int) -> list[dict]:
    """Every day of a month with its status and where the status comes from."""
    cal = WorkCalendar()
    first = date(year, month, 1)
    overrides = cal._year(year)
    notes = dict(db.session.execute(sa.select(CalendarOverride.day, CalendarOverride.note).where(
        CalendarOverride.day >= first, CalendarOverride.day < (first + timedelta(days=31)).replace(day=1))).all())
    days = []
    day = first
    while day.month == month:
        source = day_source(day, overrides)
        holiday_name = ""
        if source == SOURCE_LIBRARY:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            holiday_name = holiday_label(name)
        elif source == SOURCE_OVERRIDE:
            holiday_name = notes.get(day, "")
        days.append({"day": day, "workday": cal.is_workday(day), "source": source, "holiday": holiday_name})
        day += timedelta(days=1)
    return days
