"""月度排名通报: one month's service points and departments ranked by satisfaction, 差评 count, 差评整改率 and SLA
compliance, as a page (``ranking_views``) and a PDF for circulation.

**The month** is a calendar month in the portal's time zone (Asia/Shanghai): from local midnight of its first day
to local midnight of the next month's first day. The default is the last complete month. A month not yet begun is
refused (the default is shown instead, with a message); the month under way may be chosen and counts what is due
so far.

**The figures** of a slice (a service point, a department, a clerk):

* **Ratings** — feedback rows with a rating whose ``rated_at`` lies in the month, leaving out spam (flagged at
  intake, ``Feedback.is_spam``, or in the queue, ``Ticket.is_spam``) and ratings whose appeal was upheld: the rule
  of ``feedback.services.satisfaction``, counted per group by ``feedback.services.rating_counts``, with
  ``triage.services.upheld_feedback_ids`` (and the queue's spam) as ``exclude_ids`` — as the CAPA check combines
  them. A point's ratings are those given at it; a department's those in its queue at intake
  (``Feedback.department_id``); a clerk's those given through their staff code (一人一码).
* **CSAT** (满意度) = ratings of 4–5 ÷ ratings × 100. **差评** = ratings of 1–2, counted.
* **差评整改率** = 差评 rectified by the end of their due day ÷ 差评 whose rectification was due on a day of the month
  (up to yesterday for the month under way) × 100 — ``loop.rectification_counts``' rule (no spam, no merged
  duplicates, no upheld appeal), by the ticket's queue (``Ticket.department_id``) and point.
* **SLA compliance** (时限达标率) = tickets finished within their resolution deadline ÷ tickets whose resolution
  deadline (``Ticket.resolution_due_at``, business time from receipt, moved by the time spent awaiting the customer,
  see ``sla.py``) fell in the month and has passed × 100. Finished: resolved, or closed without a resolution; the
  moment counted is the resolution (or closure), or — for a ticket resolved while awaiting the customer, whose
  clock had stopped — the moment it began to wait. A ticket still awaiting the customer that began to wait before
  its deadline is not judged yet and left out; every other unfinished ticket past its deadline missed it. Spam and
  merged duplicates are left out; a rating's upheld appeal does not excuse the handling time.

**样本不足**: a slice with fewer than ``MIN_RATINGS`` (5) ratings shows 样本不足 instead of its CSAT and 差评 count
and ranks after every slice with enough, in those two rankings. 整改率 and SLA compliance show their counts
(rectified/due, met/due) and rank only slices with something due.

**Ranks** are competition ranks (1, 2, 2, 4): CSAT and the two rates highest first, 差评 fewest first; ties are
listed by more ratings (or more due), then by name.

**Who sees what**: every active employee sees the points and departments — the ranking is a 通报 for
circulation. Individual clerks appear only to quality managers (every clerk) and department heads (the clerks of
the departments they head), the rule of ``feedback.access.may_see_staff`` (administrators as such do not see
clerks). The PDF carries points and departments only, whoever prints it.

A fixed number of queries (at most ten), whatever the number of points: one GROUP BY per figure for every slice
at once.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from portal.core.errors import PermissionDenied
from portal.core.i18n import local_datetime, portal_tz
from portal.core.pdf import html_to_pdf
from portal.core.roles import QUALITY_MANAGER
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback.services import RATINGS_BY_POINT, RATINGS_BY_STAFF, every_point_line, rating_counts
from portal.org.models import Department, User
from portal.org.services import headed_department_ids, is_active_user
from portal.triage.loop import counted_negatives, local_day
from portal.triage.models import AWAITING_CUSTOMER, Ticket, TicketPause
from portal.triage.services import upheld_feedback_ids
from portal.workcal.services import local_today

#: Fewer ratings than this in the month: 样本不足 instead of a CSAT and a 差评 count.
MIN_RATINGS = 5
CSAT, NEGATIVE, RECTIFICATION, SLA = "csat", "negative", "rectification", "sla"
METRIC_LABELS = {
    CSAT: _l("Satisfaction"),
    NEGATIVE: _l("Negative ratings"),
    RECTIFICATION: _l("Rectification rate"),
    SLA: _l("SLA compliance"),
}
METRICS = tuple(METRIC_LABELS)
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
PDF_TEMPLATE = "triage/pdf/ranking.html"


# -- the month ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> "Month":
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def previous(self) -> "Month":
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def last_day(self) -> date:
        return self.next.first_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        """Local midnight of the first day (aware)."""
        return datetime.combine(self.first_day, time.min, portal_tz())

    @property
    def end(self) -> datetime:
        """Local midnight of the next month's first day (the window is [start, end))."""
        return self.next.start

    @property
    def key(self) -> str:
        """2026-11: the month picker's value and the URL's ``month``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return _("%(year)d-%(month)02d", year=self.year, month=self.month)

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)


def default_month(today: date | None = None) -> Month:
    """The last complete month (local time)."""
    return Month.of(today or local_today()).previous


def parse_month(text: str | None, today: date | None = None) -> tuple[Month, str | None]:
    """(the month ``text`` names — "2026-11" —, None), or (the default month, the reason ``text`` was refused).
    Empty: the default, silently."""
    today = today or local_today()
    fallback = default_month(today)
    if not (text or "").strip():
        return fallback, None
    match = _MONTH.match(text[:20])
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        return fallback, _("Choose a month as year-month, for example %(example)s. Showing %(month)s instead.",
                           example=fallback.key, month=fallback.label)
    month = Month(int(match.group(1)), int(match.group(2)))
    if month.first_day > today:
        return fallback, _("%(month)s has not begun yet. Showing %(default)s instead.", month=month.label,
                           default=fallback.label)
    return month, None


# -- what the page shows --------------------------------------------------------------------------
@dataclass
class Row:
    """One slice's figures and its rank in each metric (None: not ranked — 样本不足, or nothing due)."""

    key: int
    name: str
    department: str = ""
    ratings: int = 0
    satisfied: int = 0
    negative: int = 0
    rectified: int = 0
    rectification_due: int = 0
    sla_met: int = 0
    sla_due: int = 0
    #: Clerks are rated, not the handlers of tickets: no 整改率 or SLA for them.
    handles_tickets: bool = True
    ranks: dict[str, int | None] = field(default_factory=dict)

    @property
    def enough(self) -> bool:
        return self.ratings >= MIN_RATINGS

    @property
    def csat(self) -> float | None:
        """CSAT in per cent, None under MIN_RATINGS ratings (样本不足)."""
        return round(self.satisfied * 100.0 / self.ratings, 1) if self.enough else None

    @property
    def negative_count(self) -> int | None:
        return self.negative if self.enough else None

    @property
    def rectification_rate(self) -> float | None:
        return _percent(self.rectified, self.rectification_due)

    @property
    def sla_rate(self) -> float | None:
        return _percent(self.sla_met, self.sla_due)

    def value(self, metric: str):
        if metric == CSAT:
            return self.csat
        if metric == NEGATIVE:
            return self.negative_count
        if not self.handles_tickets:
            return None
        return self.rectification_rate if metric == RECTIFICATION else self.sla_rate

    @property
    def has_data(self) -> bool:
        return bool(self.ratings or self.rectification_due or self.sla_due)


@dataclass
class Ranking:
    month: Month
    #: The month is under way: its figures count what is due so far.
    under_way: bool
    sort: str
    points: list[Row]
    departments: list[Row]
    #: None: the reader sees no clerks; else the clerks they may see (perhaps none rated).
    staff: list[Row] | None
    #: Every clerk (quality managers) or those of the departments the reader heads.
    staff_all: bool = False
    metric_labels: dict = field(default_factory=lambda: METRIC_LABELS)
    min_ratings: int = MIN_RATINGS


def _percent(part: int, whole: int) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


# -- the queries ----------------------------------------------------------------------------------
def _excluded_feedback_ids(month: Month, now: datetime) -> list[int]:
    """The ratings to leave out besides those flagged spam at intake: upheld appeals (``upheld_feedback_ids``)
    and spam flagged in the queue (``Ticket.is_spam``). A rating's row arrives when it is rated or later (a tablet
    keeps ratings while offline), so the tickets received from the month's start on cover every rating of it."""
    horizon = max(month.end, now) + timedelta(days=1)
    spam = db.session.scalars(sa.select(Ticket.feedback_id).where(
        Ticket.is_spam == sa.true(), Ticket.received_at >= month.start, Ticket.received_at < horizon))
    return sorted(set(upheld_feedback_ids(month.start, horizon)) | set(spam))


def _judged_until(month: Month, now: datetime) -> tuple[date, datetime]:
    """The last due day of a rectification that can be judged (yesterday, within the month) and the latest SLA
    deadline that can (now, within the month)."""
    yesterday = local_day(now) - timedelta(days=1)
    return min(month.last_day, yesterday), min(month.end, now)


def _rectification_figures(month: Month, now: datetime) -> dict[tuple[int, int | None], list[int]]:
    """(department, point) → [rectified in time, due]: ``loop.rectification_counts``' rule for every queue and
    point in one query."""
    last_day, _until = _judged_until(month, now)
    out: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    if last_day < month.first_day:
        return out
    rows = db.session.execute(sa.select(
        Ticket.department_id, Ticket.service_point_id, Ticket.rectification_due_on, Ticket.rectified_at).where(
        *counted_negatives(None), Ticket.rectification_due_on >= month.first_day,
        Ticket.rectification_due_on <= last_day))
    for department_id, point_id, due, done in rows:
        figures = out[(department_id, point_id)]
        figures[1] += 1
        if done is not None and local_day(done) <= due:
            figures[0] += 1
    return out


def _sla_figures(month: Month, now: datetime) -> dict[tuple[int, int | None], list[int]]:
    """(department, point) → [met, due]: the tickets whose resolution deadline fell in the month and has passed
    (the module's docstring has the rule). One grouped query."""
    _last_day, until = _judged_until(month, now)
    out: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    if until <= month.start:
        return out
    final_pause = aliased(TicketPause)
    finished_at = sa.func.coalesce(Ticket.resolved_at, Ticket.closed_at)
    # A ticket resolved (or closed) while awaiting the customer: its clock stopped when the wait began. Resolving
    # resumes the pause at the very moment it stamps on the ticket (services.set_status).
    stopped_at = sa.func.coalesce(final_pause.paused_at, finished_at)
    met = sa.and_(finished_at.is_not(None), stopped_at <= Ticket.resolution_due_at)
    waiting_in_time = sa.and_(finished_at.is_(None), Ticket.status == AWAITING_CUSTOMER,
                              Ticket.paused_at.is_not(None), Ticket.paused_at <= Ticket.resolution_due_at)
    query = (sa.select(Ticket.department_id, Ticket.service_point_id, sa.func.count().filter(met),
                       sa.func.count().filter(sa.not_(waiting_in_time)))
             .select_from(Ticket)
             .outerjoin(final_pause, sa.and_(final_pause.ticket_id == Ticket.id,
                                             final_pause.resumed_at == finished_at))
             .where(Ticket.is_spam == sa.false(), Ticket.duplicate_of_id.is_(None),
                    Ticket.resolution_due_at >= month.start, Ticket.resolution_due_at < until)
             .group_by(Ticket.department_id, Ticket.service_point_id))
    for department_id, point_id, met_count, due in db.session.execute(query):
        out[(department_id, point_id)] = [int(met_count), int(due)]
    return out


def staff_scope(actor) -> tuple[bool, list[int]]:
    """(sees every clerk, the departments whose clerks ``actor`` sees otherwise): ``feedback.access.may_see_staff``
    for a whole ranking — quality managers every clerk, a head the clerks of the departments they head."""
    if not is_active_user(actor):
        return False, []
    if actor.has_role(QUALITY_MANAGER):
        return True, []
    return False, headed_department_ids(actor)


def _staff_rows(actor, month: Month, excluded: list[int]) -> tuple[list[Row] | None, bool]:
    """The clerks ``actor`` may see, with their ratings of the month (None: no clerk at all), and whether every
    clerk is shown."""
    every, departments = staff_scope(actor)
    if not every and not departments:
        return None, False
    counts = {c.key[0]: c for c in rating_counts(month.start, month.end, by=RATINGS_BY_STAFF, exclude_ids=excluded)}
    if not counts:
        return [], every
    clerk = sa.select(User.id, User.display_name, Department.name).outerjoin(
        Department, Department.id == User.department_id).where(User.id.in_(sorted(counts)))
    if not every:
        clerk = clerk.where(User.department_id.in_(departments))
    return [Row(key=user_id, name=name, department=department_name or "", ratings=counts[user_id].ratings,
                satisfied=counts[user_id].satisfied, negative=counts[user_id].negative, handles_tickets=False)
            for user_id, name, department_name in db.session.execute(clerk)], every


# -- ranking --------------------------------------------------------------------------------------
def _sort_key(row: Row, metric: str):
    """Ranked rows first (best first), then the rest; ties by the larger sample, then by name."""
    value = row.value(metric)
    if metric == CSAT:
        return (value is None, -(value or 0), -row.ratings, row.name)
    if metric == NEGATIVE:
        return (value is None, value or 0, -row.ratings, row.name)
    if metric == RECTIFICATION:
        return (value is None, -(value or 0), -row.rectification_due, row.name)
    return (value is None, -(value or 0), -row.sla_due, row.name)


def _assign_ranks(rows: list[Row]) -> None:
    """Competition ranks (1, 2, 2, 4) per metric; None for a row without a value."""
    for metric in METRICS:
        ordered = sorted(rows, key=lambda r: _sort_key(r, metric))
        previous, rank = object(), 0
        for position, row in enumerate(ordered, start=1):
            value = row.value(metric)
            if value is None:
                row.ranks[metric] = None
                continue
            if value != previous:
                rank, previous = position, value
            row.ranks[metric] = rank


def _ordered(rows: list[Row], metric: str) -> list[Row]:
    _assign_ranks(rows)
    return sorted(rows, key=lambda r: _sort_key(r, metric))


def ranking(actor, month: Month, sort: str = CSAT, *, now: datetime | None = None,
            with_staff: bool = True) -> Ranking:
    """The month's ranking as ``actor`` may see it, ordered by ``sort`` (a METRICS key; CSAT otherwise). Every
    active user may read it; clerks per ``staff_scope``. At most ten queries, whatever the number of points."""
    if not is_active_user(actor):
        raise PermissionDenied()
    now = now or utcnow()
    sort = sort if sort in METRICS else CSAT
    department_lines = {d.id: d for d in db.session.execute(sa.select(Department.id, Department.name,
                                                                      Department.active))}
    point_lines = {p.id: p for p in every_point_line()}
    staffed = {p.department_id for p in point_lines.values() if p.active}
    # Listed even without figures: active points, active departments with an active point. Retired ones only
    # when they have figures in the month.
    points = {p.id: Row(key=p.id, name=p.label, department=department_lines[p.department_id].name)
              for p in point_lines.values() if p.active}
    departments = {d.id: Row(key=d.id, name=d.name) for d in department_lines.values() if d.active and d.id in staffed}

    def rows_of(department_id: int, point_id: int | None) -> list[Row]:
        if department_id not in departments:
            departments[department_id] = Row(key=department_id, name=department_lines[department_id].name)
        out = [departments[department_id]]
        if point_id is not None:
            if point_id not in points:
                line = point_lines[point_id]
                points[point_id] = Row(key=point_id, name=line.label,
                                       department=department_lines[line.department_id].name)
            out.append(points[point_id])
        return out

    excluded = _excluded_feedback_ids(month, now)
    for counts in rating_counts(month.start, month.end, by=RATINGS_BY_POINT, exclude_ids=excluded):
        for row in rows_of(*counts.key):
            row.ratings += counts.ratings
            row.satisfied += counts.satisfied
            row.negative += counts.negative
    for (department_id, point_id), (done, due) in _rectification_figures(month, now).items():
        for row in rows_of(department_id, point_id):
            row.rectified, row.rectification_due = row.rectified + done, row.rectification_due + due
    for (department_id, point_id), (met, due) in _sla_figures(month, now).items():
        for row in rows_of(department_id, point_id):
            row.sla_met, row.sla_due = row.sla_met + met, row.sla_due + due
    staff, staff_all = _staff_rows(actor, month, excluded) if with_staff else (None, False)
    return Ranking(month=month, under_way=month.end > now, sort=sort,
                   points=_ordered(list(points.values()), sort),
                   departments=_ordered(list(departments.values()), sort),
                   staff=_ordered(staff, sort) if staff is not None else None, staff_all=staff_all)


# -- the PDF --------------------------------------------------------------------------------------
def ranking_pdf(actor, month: Month, sort: str = CSAT) -> tuple[Ranking, bytes]:
    """The month's ranking of points and departments as an A4 PDF for circulation (never the clerks)."""
    from portal.sop.pdf import css_content

    board = ranking(actor, month, sort, with_staff=False)
    html = render_template(PDF_TEMPLATE, ranking=board, css_content=css_content,
                           printed_at=local_datetime(utcnow()), printed_by=actor.display_name)
    return board, html_to_pdf(html)


def pdf_filename(board: Ranking) -> tuple[str, str]:
    """(the Chinese file name, its ASCII fallback)."""
    return f"{_('Monthly ranking')}-{board.month.key}.pdf", f"ranking-{board.month.key}.pdf"
