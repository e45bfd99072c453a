"""A pausable business-time clock for service-level targets (issue 12's feedback queues).

Time counts only inside working hours (``WorkingHours``, e.g. 09:00–12:00 and 13:30–17:30, wall-clock times in
the portal's time zone) on working days of the Chinese calendar (``WorkCalendar``: statutory holidays, 调休
make-up working days, administrators' overrides), and not while the item is paused (waiting on the customer).

Conventions shared by every function here:

* All datetimes must be timezone-aware (``ValueError`` otherwise); datetimes returned keep the time zone of
  ``start``.
* Intervals are half-open, ``[a, b)``: an item opened at 09:00 has aged 0 minutes at 09:00 and 1 at 09:01.
* Minutes returned are **whole minutes, rounded down**: the exact business time (to the microsecond) is summed
  first, then floored once, so 30 seconds before lunch plus 30 seconds after it make one minute.
* ``pauses`` is an iterable of ``(paused_at, resumed_at)`` pairs; ``resumed_at`` is ``None`` while the pause is
  still running (the clock is stopped from ``paused_at`` on). Pauses may overlap, touch, come in any order or
  begin before ``start``: what counts is their union. A pause whose ``resumed_at`` is before its ``paused_at``
  is refused.
* ``hours`` defaults to ``PORTAL_WORKING_HOURS``; ``calendar`` defaults to a new ``WorkCalendar`` for the call.
  A caller evaluating many items (a scan every minute) passes one ``WorkCalendar`` to all of them, so the
  overrides are read from the database once per year touched, not once per item.

The walk goes day by day over the working periods of each day (never minute by minute), so the cost grows with
the number of calendar days spanned, and a paused stretch costs one day's walk to step over.

Agreement with ``WorkCalendar.add_business_minutes``: for every aware ``start`` and every ``n >= 0``,
``business_minutes_between(start, add_business_minutes(start, n)) == n`` and
``due_at(start, n, []) == add_business_minutes(start, n)`` (tests/workcal/test_clock.py checks both with
hypothesis).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

from portal.core.i18n import portal_tz
from portal.workcal.services import WorkCalendar, WorkingHours, default_working_hours

#: ``(paused_at, resumed_at)``; ``resumed_at`` is None while the pause lasts.
Pause = tuple[datetime, datetime | None]

#: The warnings a queue gives by default: at half, three quarters and all of the target.
DEFAULT_THRESHOLDS = (50, 75, 100)

_MINUTE = timedelta(minutes=1)
#: A calendar with no working period for this many days in a row is a mistake (every day overridden as off).
_GUARD_DAYS = 3660


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(timezone.utc)


def _setup(hours: WorkingHours | None, calendar: WorkCalendar | None) -> tuple[WorkingHours, WorkCalendar]:
    return hours or default_working_hours(), calendar or WorkCalendar()


def _working_periods(start: datetime, hours: WorkingHours,
                     calendar: WorkCalendar) -> Iterator[tuple[datetime, datetime]]:
    """The working periods from ``start`` on, in order, as non-empty UTC ``(begin, end)`` pairs; the period
    ``start`` falls in begins at ``start``. Endless: the caller stops consuming."""
    tz = portal_tz()
    local = start.astimezone(tz)
    day = local.date()
    idle_days = 0
    while True:
        found = False
        if calendar.is_workday(day):
            for period_start, period_end in hours.periods:
                end = datetime.combine(day, period_end, tz)
                if end > local:
                    found = True
                    yield max(datetime.combine(day, period_start, tz), local).astimezone(timezone.utc), \
                        end.astimezone(timezone.utc)
        idle_days = 0 if found else idle_days + 1
        if idle_days > _GUARD_DAYS:
            raise ValueError("no working time found within ten years: check the calendar overrides")
        day += timedelta(days=1)


def _merged_pauses(pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    """The union of ``pauses`` as sorted, disjoint UTC intervals; an open pause (``None``) ends the list."""
    intervals = []
    for paused_at, resumed_at in pauses:
        paused_at = _aware(paused_at, "paused_at")
        if resumed_at is not None:
            resumed_at = _aware(resumed_at, "resumed_at")
            if resumed_at < paused_at:
                raise ValueError("a pause cannot end before it begins")
        intervals.append((paused_at, resumed_at))
    intervals.sort(key=lambda pause: pause[0])
    merged: list[tuple[datetime, datetime | None]] = []
    for paused_at, resumed_at in intervals:
        if merged and paused_at <= merged[-1][1]:
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, None if resumed_at is None else max(last_end, resumed_at))
        else:
            merged.append((paused_at, resumed_at))
        if merged[-1][1] is None:
            break  # an open pause stops the clock for good: later pauses change nothing
    return merged


def _running(start: datetime, stop: datetime | None,
             pauses: Iterable[Pause]) -> Iterator[tuple[datetime, datetime | None]]:
    """The stretches of ``[start, stop)`` (``stop`` None: unbounded) outside every pause, in order; the last
    one's end is None when it runs on for ever."""
    cursor = start
    for paused_at, resumed_at in _merged_pauses(pauses):
        if stop is not None and paused_at >= stop:
            break
        if resumed_at is not None and resumed_at <= cursor:
            continue
        if paused_at > cursor:
            yield cursor, paused_at
        if resumed_at is None:
            return
        cursor = max(cursor, resumed_at)
    if stop is None or cursor < stop:
        yield cursor, stop


def _counting_spans(start: datetime, stop: datetime | None, pauses: Iterable[Pause], hours: WorkingHours,
                    calendar: WorkCalendar) -> Iterator[tuple[datetime, datetime]]:
    """The non-empty UTC spans where the clock runs: working periods within ``[start, stop)``, minus pauses."""
    for run_start, run_end in _running(_aware(start, "start"), stop, pauses):
        for begin, end in _working_periods(run_start, hours, calendar):
            if run_end is not None and begin >= run_end:
                break
            yield begin, end if run_end is None else min(end, run_end)


def _counted(start: datetime, stop: datetime, pauses: Iterable[Pause], hours: WorkingHours | None,
             calendar: WorkCalendar | None) -> int:
    hours, calendar = _setup(hours, calendar)
    stop = _aware(stop, "end")
    if stop <= _aware(start, "start"):
        return 0
    total = sum((end - begin for begin, end in _counting_spans(start, stop, pauses, hours, calendar)), timedelta())
    return total // _MINUTE


def business_minutes_between(start: datetime, end: datetime, hours: WorkingHours | None = None,
                             calendar: WorkCalendar | None = None) -> int:
    """Whole working minutes in ``[start, end)``: the time inside working periods of working days, floored to
    the minute; 0 when ``end <= start``. The inverse of ``add_business_minutes``."""
    return _counted(start, end, (), hours, calendar)


def elapsed(start: datetime, now: datetime, pauses: Iterable[Pause] = (), hours: WorkingHours | None = None,
            calendar: WorkCalendar | None = None) -> int:
    """Whole business minutes the item has aged in ``[start, now)``: working time outside every pause. A pause
    still open at ``now`` counts as lasting until ``now``; pauses (or parts of them) after ``now`` do not matter.
    It never decreases as ``now`` advances, and stands still while paused (nights, weekends and holidays never
    count anyway)."""
    return _counted(start, now, pauses, hours, calendar)


def due_at(start: datetime, target_minutes: int, pauses: Iterable[Pause] = (), hours: WorkingHours | None = None,
           calendar: WorkCalendar | None = None, *, now: datetime | None = None) -> datetime | None:
    """The deadline: the moment the clock, running from ``start``, has counted ``target_minutes``; then
    ``elapsed(start, moment, pauses) == target_minutes`` and (for a positive target) one microsecond earlier it
    was one minute less.

    Without pauses this is ``add_business_minutes(start, target_minutes)``: a target used up exactly at 12:00
    gives 12:00, not 13:30; a target of 0 gives the next moment the clock runs (``start`` itself inside working
    hours and outside pauses, else the next period start after any pause). Each pause before the deadline moves
    it by the business time the pause covers (a pause over a night or a weekend moves it by nothing); a pause
    starting after the deadline does not move it.

    An open pause (``resumed_at`` None) that begins before the target is used up stops the clock: the result is
    None, or with ``now`` the deadline as if the item were resumed at ``now`` (at the pause start if ``now`` is
    earlier). The result keeps the time zone of ``start``.
    """
    if target_minutes < 0:
        raise ValueError("target_minutes must not be negative")
    hours, calendar = _setup(hours, calendar)
    pauses = list(pauses)
    if now is not None:
        now = _aware(now, "now")
        pauses = [(p, max(now, _aware(p, "paused_at")) if r is None else r) for p, r in pauses]
    remaining = timedelta(minutes=target_minutes)
    for begin, end in _counting_spans(start, None, pauses, hours, calendar):
        if remaining <= end - begin:
            return (begin + remaining).astimezone(start.tzinfo)
        remaining -= end - begin
    return None


def _check_target(target_minutes: int) -> None:
    if target_minutes <= 0:
        raise ValueError("target_minutes must be positive")


def fraction(start: datetime, now: datetime, target_minutes: int, pauses: Iterable[Pause] = (),
             hours: WorkingHours | None = None, calendar: WorkCalendar | None = None) -> float:
    """``elapsed / target_minutes``: 0.0 at the start, 1.0 at the deadline, above 1.0 once it is overdue."""
    _check_target(target_minutes)
    return elapsed(start, now, pauses, hours, calendar) / target_minutes


def percent(start: datetime, now: datetime, target_minutes: int, pauses: Iterable[Pause] = (),
            hours: WorkingHours | None = None, calendar: WorkCalendar | None = None) -> int:
    """The elapsed share of the target in whole percent, rounded down (100 exactly at the deadline, more after
    it): 3 minutes of a 7-minute target are 42."""
    _check_target(target_minutes)
    return elapsed(start, now, pauses, hours, calendar) * 100 // target_minutes


def warnings_due(start: datetime, now: datetime, target_minutes: int, pauses: Iterable[Pause] = (),
                 fired: Iterable[int] = (), thresholds: Iterable[int] = DEFAULT_THRESHOLDS,
                 hours: WorkingHours | None = None, calendar: WorkCalendar | None = None) -> tuple[int, ...]:
    """The thresholds (percent of the target) reached at ``now`` that are not in ``fired``, ascending.

    A threshold ``t`` is reached when ``elapsed * 100 >= t * target_minutes`` (exact integers: 100 is reached at
    ``due_at``, to the minute). The caller stores what it sends and passes it back as ``fired``, so a scan that
    runs every minute (or twice in the same minute) fires each threshold once. A scan that ran late returns every
    threshold passed meanwhile (e.g. ``(50, 75)``): the last is the most urgent, if only one message should go.
    Pure logic: nothing is stored here.
    """
    _check_target(target_minutes)
    pending = sorted(set(thresholds) - set(fired))
    if any(t <= 0 for t in pending):
        raise ValueError("thresholds must be positive percentages")
    if not pending:
        return ()
    minutes = elapsed(start, now, pauses, hours, calendar)
    return tuple(t for t in pending if minutes * 100 >= t * target_minutes)
