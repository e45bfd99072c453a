"""A year's statutory holidays and make-up workdays (调休), entered in one go from the State Council's notice.

chinesecalendar only knows the years it was released for; for a later year the calendar falls back to
Monday–Friday. An administrator types the notice as lines (``2027-01-01 休 元旦``, ``2027-02-06 班 春节调休``,
or a range ``2027-02-10~2027-02-16 休 春节``) or uploads them as .xlsx/.csv, sees exactly which days will
change, and confirms. Each day becomes an override; the year is recorded as entered (``CalendarYear``), so
it counts as covered. Applying the same list again changes nothing.

The text and the file are kept as a ``PendingImport`` (kind ``holidays``), so what is applied is exactly
what was previewed, re-planned against the database at apply time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core import uploads
from portal.core.errors import ServiceError
from portal.core.roles import ADMIN
from portal.extensions import db
from portal.web.access import ensure_role
from portal.workcal.models import CalendarOverride, CalendarYear

KIND = "holidays"
MAX_LINES = 400
MAX_RANGE_DAYS = 31
MAX_TEXT = 20000

DAY_OFF_WORDS = {"休", "休息", "放假", "假", "节假日", "off", "holiday"}
WORKDAY_WORDS = {"班", "上班", "补班", "工作日", "调休上班", "work", "workday"}
_DATE_RE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?")
_RANGE_SEP_RE = re.compile(r"\s*(?:~|～|至|到|\.\.|—|–)\s*")


@dataclass
class Entry:
    day: date
    workday: bool
    note: str
    line: int
    #: What the calendar says today: (is working day, source) — source as in services.day_source.
    before_workday: bool = True
    before_source: str = ""
    before_note: str = ""
    change: str = "set"  # set | same


@dataclass
class YearPlan:
    year: int | None
    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The year was entered before (CalendarYear row).
    already_entered: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors and bool(self.entries)

    @property
    def changes(self) -> list[Entry]:
        return [e for e in self.entries if e.change != "same"]

    @property
    def unchanged(self) -> int:
        return len(self.entries) - len(self.changes)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or not self.already_entered


def _parse_date(text: str) -> date | None:
    match = _DATE_RE.fullmatch((text or "").strip())
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _status(word: str) -> bool | None:
    word = (word or "").strip().lower()
    if word in DAY_OFF_WORDS:
        return False
    if word in WORKDAY_WORDS:
        return True
    return None


def parse_lines(lines: list[tuple[int, str]]) -> tuple[list[Entry], list[str]]:
    """``[(line number, text)]`` → entries and errors (each error names its line)."""
    entries: dict[date, Entry] = {}
    errors: list[str] = []
    for number, raw in lines:
        text = (raw or "").strip()
        if not text or text.startswith("#"):
            continue
        text = _RANGE_SEP_RE.sub("~", text)
        parts = re.split(r"[\s,，\t;；]+", text, maxsplit=2)
        dates = parts[0].split("~")
        first = _parse_date(dates[0])
        last = _parse_date(dates[1]) if len(dates) == 2 else first
        if first is None or last is None or len(dates) > 2:
            errors.append(_("Line %(line)d: start with a date as YYYY-MM-DD, or a range such as "
                            "2027-02-10~2027-02-16.", line=number))
            continue
        if last < first or (last - first).days >= MAX_RANGE_DAYS:
            errors.append(_("Line %(line)d: a range must run forwards and cover at most %(n)d days.",
                            line=number, n=MAX_RANGE_DAYS))
            continue
        workday = _status(parts[1]) if len(parts) > 1 else None
        if workday is None:
            errors.append(_("Line %(line)d: after the date write 休 (day off) or 班 (working day).", line=number))
            continue
        note = parts[2].strip()[:100] if len(parts) > 2 else ""
        day = first
        while day <= last:
            previous = entries.get(day)
            if previous is not None and previous.workday != workday:
                errors.append(_("Line %(line)d: %(day)s is already listed on line %(other)d with the other status.",
                                line=number, day=day.isoformat(), other=previous.line))
            else:
                entries[day] = Entry(day, workday, note, number)
            day += timedelta(days=1)
    return sorted(entries.values(), key=lambda e: e.day), errors


def rows_to_lines(rows: list[list[str]]) -> list[tuple[int, str]]:
    """Spreadsheet rows → lines. Columns: date (or start date and end date), 休/班, note; a header row
    (日期, 状态, 说明) is skipped."""
    lines = []
    for number, row in enumerate(rows, start=1):
        cells = [(c or "").strip() for c in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        first, second = _parse_date(cells[0]), _parse_date(cells[1]) if len(cells) > 1 else None
        if first is None and number == 1 and "~" not in _RANGE_SEP_RE.sub("~", cells[0]):
            continue
        if first is not None and second is not None:
            dates, rest = f"{first.isoformat()}~{second.isoformat()}", cells[2:]
        else:
            dates, rest = (first.isoformat() if first else cells[0].replace(" ", "")), cells[1:]
        status = rest[0].replace(" ", "") if rest else ""
        lines.append((number, " ".join(part for part in (dates, status, " ".join(rest[1:])) if part)))
    return lines


def read_upload(filename: str, content: bytes) -> list[tuple[int, str]]:
    if not content:
        raise ServiceError((None, _("The file is empty.")))
    if content[:4] == uploads.XLSX_MAGIC or content[:8] == uploads.XLS_MAGIC or filename.lower().endswith(".xlsx"):
        return rows_to_lines(uploads.read_xlsx_rows(content, max_rows=MAX_LINES))
    rows = uploads.read_csv_rows(content, max_rows=MAX_LINES)
    return rows_to_lines(rows)


def text_to_lines(text: str) -> list[tuple[int, str]]:
    if len(text or "") > MAX_TEXT:
        raise ServiceError(("lines", _("The list is too long: at most %(n)d characters.", n=MAX_TEXT)))
    lines = list(enumerate((text or "").splitlines(), start=1))
    if len(lines) > MAX_LINES:
        raise ServiceError(("lines", _("The list has more than %(n)d lines.", n=MAX_LINES)))
    return lines


def plan_year(lines: list[tuple[int, str]]) -> YearPlan:
    """What entering these lines would change, against the calendar as it is now."""
    from portal.workcal.services import WorkCalendar, day_source

    entries, errors = parse_lines(lines)
    if not entries and not errors:
        return YearPlan(None, [], [_("The list has no dates. Enter one line per day or range, e.g. "
                                     "2027-01-01 休 元旦.")])
    years = sorted({e.day.year for e in entries})
    year = years[0] if years else None
    if len(years) > 1:
        errors.append(_("Enter one year at a time: the list has days in %(years)s.",
                        years=", ".join(str(y) for y in years)))
    plan = YearPlan(year, entries, errors)
    if errors:
        return plan
    plan.already_entered = db.session.get(CalendarYear, year) is not None
    calendar = WorkCalendar()
    overrides = {row.day: row for row in db.session.scalars(
        sa.select(CalendarOverride).where(CalendarOverride.day >= date(year, 1, 1),
                                          CalendarOverride.day <= date(year, 12, 31)))}
    for entry in entries:
        entry.before_workday = calendar.is_workday(entry.day)
        entry.before_source = day_source(entry.day, overrides)
        row = overrides.get(entry.day)
        entry.before_note = row.note if row else ""
        if row is not None and row.is_workday == entry.workday and row.note == entry.note:
            entry.change = "same"
    return plan


def _keep(actor, filename: str, content: bytes, plan: YearPlan):
    if not plan.valid or not plan.has_changes:
        return None
    pending = uploads.keep_pending(actor, KIND, filename, content)
    record("calendar.year_upload", pending, actor=actor,
           extra={"year": plan.year, "filename": pending.filename, "days": len(plan.entries),
                  "changes": len(plan.changes)})
    return pending


def preview_text(actor, text: str):
    """The typed list: (pending import or None, plan)."""
    ensure_role(actor, ADMIN)
    plan = plan_year(text_to_lines(text))
    return _keep(actor, "form", (text or "").encode("utf-8"), plan), plan


def upload_list(actor, filename: str, content: bytes):
    """The uploaded .xlsx/.csv list: (pending import or None, plan)."""
    ensure_role(actor, ADMIN)
    plan = plan_year(read_upload(filename or "", content))
    return _keep(actor, filename or "holidays.csv", content, plan), plan


def _lines_of(pending) -> list[tuple[int, str]]:
    if pending.filename == "form":
        return text_to_lines(pending.content.decode("utf-8"))
    return read_upload(pending.filename, pending.content)


def apply_list(actor, import_id: int):
    """Write a previewed list: (pending, plan), or (pending, None) when it was applied already."""
    ensure_role(actor, ADMIN)
    pending = uploads.get_pending(actor, KIND, import_id, for_update=True)
    if pending.status != "pending":
        return pending, None
    plan = plan_year(_lines_of(pending))
    if not plan.valid:
        raise ServiceError(*[(None, m) for m in plan.errors])
    changes = plan.changes
    for entry in changes:
        row = db.session.get(CalendarOverride, entry.day)
        if row is None:
            db.session.add(CalendarOverride(day=entry.day, is_workday=entry.workday, note=entry.note,
                                            created_by_id=actor.id))
        else:
            row.is_workday, row.note = entry.workday, entry.note
    year_row = db.session.get(CalendarYear, plan.year)
    source = "form" if pending.filename == "form" else "upload"
    if year_row is None:
        db.session.add(CalendarYear(year=plan.year, days=len(plan.entries), source=source, entered_by_id=actor.id))
    else:
        year_row.days, year_row.source, year_row.entered_by_id = len(plan.entries), source, actor.id
    db.session.flush()
    result = {"year": plan.year, "changed": len(changes), "unchanged": plan.unchanged}
    uploads.mark_applied(pending, result)
    if changes or year_row is None:
        record("calendar.year_entered", actor=actor, object_type="calendar_year", object_id=str(plan.year),
               before={e.day.isoformat(): {"is_workday": e.before_workday, "source": e.before_source}
                       for e in changes},
               after={e.day.isoformat(): {"is_workday": e.workday, "note": e.note} for e in changes},
               extra={"import_id": pending.id, "source": source, "days": len(plan.entries)})
    return pending, plan
