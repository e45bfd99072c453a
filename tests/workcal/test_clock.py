"""The business-time SLA clock (portal/workcal/clock.py): working minutes between two moments, a clock that
stops while an item is paused, its deadline, its share of a target, and warnings that fire once each.

Every expected moment below is written out in Asia/Shanghai (``sh``) with the default hours 09:00–12:00 and
13:30–17:30 (420 minutes a day) unless a test passes its own. The days come from chinesecalendar's 2025:
National Day holiday Wed 10-01 … Wed 10-08, make-up working days Sun 09-28 and Sat 10-11; Sat 09-27 and Sun 10-12
are ordinary days off. Overrides are real rows in the test database.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.workcal import services
from portal.workcal.clock import business_minutes_between, due_at, elapsed, fraction, percent, warnings_due
from portal.workcal.services import WorkCalendar, WorkingHours, add_business_minutes
from tests.helpers import count_queries, sh

#: Thursday 14:00 to a 240-minute target, paused from Thursday 15:00 over Friday and the weekend to Monday 10:00.
PAUSED_START = sh(2025, 9, 18, 14, 0)
OVER_THE_WEEKEND = [(sh(2025, 9, 18, 15, 0), sh(2025, 9, 22, 10, 0))]


# -- working minutes between two moments -----------------------------------------------------------
@pytest.mark.parametrize("start, end, expected", [
    (sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 10, 30), 30),  # inside a period
    (sh(2025, 9, 29, 11, 30), sh(2025, 9, 29, 14, 0), 60),  # across lunch
    (sh(2025, 9, 29, 9, 0), sh(2025, 9, 29, 17, 30), 420),  # a whole working day
    (sh(2025, 9, 19, 17, 0), sh(2025, 9, 22, 9, 30), 60),  # Friday → across the weekend → Monday
    (sh(2025, 9, 20, 8, 0), sh(2025, 9, 21, 20, 0), 0),  # an ordinary weekend counts nothing
    (sh(2025, 9, 26, 17, 0), sh(2025, 9, 28, 9, 30), 60),  # Friday → the 调休 Sunday 09-28 is a working day
    (sh(2025, 9, 27, 0, 0), sh(2025, 9, 29, 0, 0), 420),  # Saturday 09-27 off, Sunday 09-28 working
    (sh(2025, 9, 22, 9, 0), sh(2025, 9, 29, 9, 0), 2520),  # that week: Monday–Friday and the 调休 Sunday, 6 × 420
    (sh(2025, 9, 30, 17, 0), sh(2025, 10, 9, 9, 30), 60),  # across the National Day holiday
    (sh(2025, 10, 1, 0, 0), sh(2025, 10, 9, 0, 0), 0),  # the holiday itself
    (sh(2025, 10, 10, 17, 0), sh(2025, 10, 11, 9, 30), 60),  # Friday → the 调休 Saturday 10-11
    (sh(2025, 10, 11, 17, 0), sh(2025, 10, 13, 9, 30), 60),  # the 调休 Saturday → Sunday off → Monday
    (sh(2025, 9, 29, 9, 0), sh(2025, 10, 13, 9, 0), 2100),  # 09-29, 09-30, 10-09, 10-10 and the 调休 10-11
    (sh(2025, 9, 29, 7, 0), sh(2025, 9, 29, 9, 30), 30),  # start before opening
    (sh(2025, 9, 29, 12, 45), sh(2025, 9, 29, 14, 0), 30),  # start at lunch
    (sh(2025, 9, 29, 18, 0), sh(2025, 9, 30, 9, 30), 30),  # start after closing
    (sh(2025, 10, 3, 10, 0), sh(2025, 10, 9, 9, 30), 30),  # start on a holiday
    (sh(2025, 9, 29, 10, 30), sh(2025, 9, 29, 10, 0), 0),  # end before start
    (sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 10, 0), 0),  # an empty interval
    (sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 10, 0) + timedelta(seconds=59), 0),  # whole minutes, rounded down
    (sh(2025, 9, 29, 11, 59) + timedelta(seconds=30), sh(2025, 9, 29, 13, 30) + timedelta(seconds=30), 1),
])
def test_business_minutes_between(start, end, expected):
    assert business_minutes_between(start, end) == expected


@pytest.mark.parametrize("start, target, expected", [
    (sh(2025, 9, 19, 16, 0), 240, sh(2025, 9, 22, 11, 30)),  # Friday 90 minutes, Monday 150
    (sh(2025, 9, 26, 10, 0), 840, sh(2025, 9, 29, 10, 0)),  # two working days from Friday, via the 调休 Sunday
    (sh(2025, 9, 30, 17, 0), 60, sh(2025, 10, 9, 9, 30)),  # across the National Day holiday
    (sh(2025, 9, 30, 9, 0), 1260, sh(2025, 10, 10, 17, 30)),  # three working days: 09-30, 10-09, 10-10
    (sh(2025, 10, 10, 15, 30), 420, sh(2025, 10, 11, 15, 30)),  # one working day lands on the 调休 Saturday
    (sh(2025, 9, 29, 7, 0), 30, sh(2025, 9, 29, 9, 30)),  # start before opening
    (sh(2025, 9, 29, 12, 45), 30, sh(2025, 9, 29, 14, 0)),  # start at lunch
    (sh(2025, 9, 29, 18, 0), 30, sh(2025, 9, 30, 9, 30)),  # start after closing
    (sh(2025, 10, 5, 14, 0), 30, sh(2025, 10, 9, 9, 30)),  # start on a holiday
    (sh(2025, 9, 29, 11, 0), 60, sh(2025, 9, 29, 12, 0)),  # used up exactly at noon: noon, not 13:30
    (sh(2025, 9, 29, 12, 0), 0, sh(2025, 9, 29, 13, 30)),  # a target of 0: the next working moment
])
def test_due_at_without_pauses(start, target, expected):
    assert due_at(start, target, []) == expected
    assert add_business_minutes(start, target) == expected
    assert business_minutes_between(start, expected) == target


def test_results_keep_the_time_zone_of_the_start():
    start = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc)  # 17:00 in Shanghai, before National Day
    due = due_at(start, 60)
    assert due == datetime(2025, 10, 9, 1, 30, tzinfo=timezone.utc) and due.tzinfo is timezone.utc
    assert business_minutes_between(start, datetime(2025, 10, 9, 1, 30, tzinfo=timezone.utc)) == 60


def test_custom_working_hours():
    hours = WorkingHours.parse("08:30-17:00")  # no lunch break, 510 minutes a day
    assert due_at(sh(2025, 9, 19, 16, 0), 120, [], hours) == sh(2025, 9, 22, 9, 30)
    assert business_minutes_between(sh(2025, 9, 19, 16, 0), sh(2025, 9, 22, 9, 30), hours) == 120
    assert business_minutes_between(sh(2025, 9, 29, 12, 0), sh(2025, 9, 29, 13, 0), hours) == 60
    assert business_minutes_between(sh(2025, 9, 29, 12, 0), sh(2025, 9, 29, 13, 0)) == 0
    assert business_minutes_between(sh(2025, 9, 28, 0, 0), sh(2025, 9, 29, 0, 0), hours) == 510  # 调休 Sunday


# -- pauses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("now, expected", [
    (sh(2025, 9, 18, 14, 30), 30),
    (sh(2025, 9, 18, 15, 0), 60),  # the pause begins
    (sh(2025, 9, 18, 23, 0), 60),  # the night
    (sh(2025, 9, 19, 11, 0), 60),  # Friday, a working day, but paused
    (sh(2025, 9, 20, 12, 0), 60),  # the weekend
    (sh(2025, 9, 22, 10, 0), 60),  # resumed
    (sh(2025, 9, 22, 10, 30), 90),
    (sh(2025, 9, 22, 14, 30), 240),  # the deadline
])
def test_a_pause_over_a_night_and_a_weekend_does_not_age_the_item(now, expected):
    assert elapsed(PAUSED_START, now, OVER_THE_WEEKEND) == expected


def test_a_pause_moves_the_deadline_by_the_business_time_it_covers():
    assert due_at(PAUSED_START, 240, []) == sh(2025, 9, 19, 9, 30)  # Thursday 210 minutes + Friday 30
    # 60 minutes before the pause, 180 after it from Monday 10:00: 120 in the morning, 60 after lunch.
    assert due_at(PAUSED_START, 240, OVER_THE_WEEKEND) == sh(2025, 9, 22, 14, 30)
    # A pause from closing time on Friday to opening on Monday covers no working time: nothing moves.
    start, weekend = sh(2025, 9, 19, 16, 0), [(sh(2025, 9, 19, 17, 30), sh(2025, 9, 22, 9, 0))]
    assert due_at(start, 240, weekend) == due_at(start, 240, []) == sh(2025, 9, 22, 11, 30)
    assert elapsed(start, sh(2025, 9, 22, 9, 0), weekend) == 90
    # A pause after the deadline does not move it.
    assert due_at(PAUSED_START, 240, [(sh(2025, 9, 19, 10, 0), sh(2025, 9, 22, 10, 0))]) == sh(2025, 9, 19, 9, 30)


def test_an_open_pause_stops_the_clock():
    waiting = [(sh(2025, 9, 18, 15, 0), None)]
    assert elapsed(PAUSED_START, sh(2025, 9, 25, 16, 0), waiting) == 60
    assert due_at(PAUSED_START, 240, waiting) is None
    # With ``now``: the deadline if the customer answered now.
    assert due_at(PAUSED_START, 240, waiting, now=sh(2025, 9, 22, 10, 0)) == sh(2025, 9, 22, 14, 30)
    assert due_at(PAUSED_START, 240, waiting, now=sh(2025, 9, 18, 12, 0)) == sh(2025, 9, 19, 9, 30)
    # Paused only after the deadline had passed: the deadline stands.
    assert due_at(PAUSED_START, 240, [(sh(2025, 9, 19, 10, 0), None)]) == sh(2025, 9, 19, 9, 30)


def test_pauses_overlapping_in_any_order_or_before_the_start_count_once():
    start = sh(2025, 9, 29, 9, 0)
    pauses = [
        (sh(2025, 9, 29, 10, 15), sh(2025, 9, 29, 11, 0)),
        (sh(2025, 9, 29, 8, 0), sh(2025, 9, 29, 9, 30)),  # begins before the start
        (sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 10, 30)),  # overlaps the first: paused 10:00–11:00
        (sh(2025, 9, 29, 10, 20), sh(2025, 9, 29, 10, 40)),  # inside both
    ]
    assert elapsed(start, sh(2025, 9, 29, 12, 0), pauses) == 90  # 09:30–10:00 and 11:00–12:00
    assert due_at(start, 120, pauses) == sh(2025, 9, 29, 14, 0)
    assert elapsed(start, sh(2025, 9, 29, 14, 0), pauses) == 120


# -- overrides ------------------------------------------------------------------------------------
def test_an_override_day_changes_the_result(admin):
    services.set_override(admin, date(2025, 10, 1), True, "值班")
    assert business_minutes_between(sh(2025, 9, 30, 17, 0), sh(2025, 10, 9, 9, 30)) == 480
    assert due_at(sh(2025, 9, 30, 17, 0), 60) == sh(2025, 10, 1, 9, 30)
    services.set_override(admin, date(2025, 9, 28), False, "公司调休取消")
    # Friday 360 minutes, Sunday now off, Monday 420, Tuesday 60.
    assert due_at(sh(2025, 9, 26, 10, 0), 840) == sh(2025, 9, 30, 10, 0)


def test_a_pause_over_an_overridden_working_saturday_moves_the_deadline(admin):
    start, weekend = sh(2025, 9, 19, 16, 0), [(sh(2025, 9, 19, 17, 30), sh(2025, 9, 22, 9, 0))]
    services.set_override(admin, date(2025, 9, 20), True, "加班")
    assert due_at(start, 240, []) == sh(2025, 9, 20, 11, 30)  # the Saturday now counts
    assert due_at(start, 240, weekend) == sh(2025, 9, 22, 11, 30)  # …unless the item is paused over it
    assert elapsed(start, sh(2025, 9, 22, 9, 0), weekend) == 90


def test_one_calendar_reads_the_overrides_once_per_year():
    calendar = WorkCalendar()
    with count_queries() as statements:
        for hour in range(9, 17):
            start = sh(2025, 12, 30, hour, 0)
            assert elapsed(start, sh(2026, 1, 6, 9, 0), [], calendar=calendar) > 0
            assert due_at(start, 2000, [], calendar=calendar) > start
    assert len([s for s in statements if "calendar_override" in s]) == 2  # 2025 and 2026


# -- share of the target and warnings -------------------------------------------------------------
@pytest.mark.parametrize("now, share, whole_percent", [
    (sh(2025, 9, 29, 9, 0), 0.0, 0),
    (sh(2025, 9, 29, 12, 0), 180 / 420, 42),
    (sh(2025, 9, 29, 14, 0), 0.5, 50),
    (sh(2025, 9, 29, 17, 30), 1.0, 100),
    (sh(2025, 9, 30, 10, 0), 480 / 420, 114),  # overdue
])
def test_fraction_and_percent(now, share, whole_percent):
    assert fraction(sh(2025, 9, 29, 9, 0), now, 420) == share
    assert percent(sh(2025, 9, 29, 9, 0), now, 420) == whole_percent


@pytest.mark.parametrize("pauses, expected", [
    # Friday 15:30–17:30 is 120 minutes; 50 % (210) at 10:30, 75 % (315) at 13:45 and 100 % at 15:30 on the
    # 调休 Sunday 09-28.
    ([], [(50, sh(2025, 9, 28, 10, 30)), (75, sh(2025, 9, 28, 13, 45)), (100, sh(2025, 9, 28, 15, 30))]),
    # Paused from Sunday 10:00 (180 minutes) to Monday 09:00: nothing fires while paused.
    ([(sh(2025, 9, 28, 10, 0), sh(2025, 9, 29, 9, 0))],
     [(50, sh(2025, 9, 29, 9, 30)), (75, sh(2025, 9, 29, 11, 15)), (100, sh(2025, 9, 29, 14, 30))]),
], ids=["running", "paused"])
def test_warnings_fire_once_each_however_often_evaluated(pauses, expected):
    start, calendar, hours = sh(2025, 9, 26, 15, 30), WorkCalendar(), WorkingHours.parse("09:00-12:00,13:30-17:30")
    fired, log = set(), []
    now = sh(2025, 9, 26, 15, 0)
    while now <= sh(2025, 9, 29, 17, 30):  # a scan every minute, run twice each time
        for _run in range(2):
            for threshold in warnings_due(start, now, 420, pauses, fired, hours=hours, calendar=calendar):
                fired.add(threshold)
                log.append((threshold, now))
        now += timedelta(minutes=1)
    assert log == expected
    assert due_at(start, 420, pauses) == expected[-1][1]


def test_a_late_scan_returns_every_threshold_passed_meanwhile():
    start = sh(2025, 9, 26, 15, 30)
    assert warnings_due(start, sh(2025, 9, 28, 10, 29), 420) == ()
    assert warnings_due(start, sh(2025, 9, 28, 14, 0), 420) == (50, 75)
    assert warnings_due(start, sh(2025, 9, 28, 15, 29), 420, fired=[50, 75]) == ()
    assert warnings_due(start, sh(2025, 9, 28, 15, 30), 420, fired=[50, 75]) == (100,)
    assert warnings_due(start, sh(2025, 10, 20, 9, 0), 420, fired=[50, 75, 100]) == ()
    assert warnings_due(start, sh(2025, 9, 28, 15, 30), 420, thresholds=(90, 150)) == (90,)


def test_bad_inputs_are_refused():
    naive = datetime(2025, 9, 29, 10, 0)
    for call in (
        lambda: business_minutes_between(naive, sh(2025, 9, 29, 11, 0)),
        lambda: business_minutes_between(sh(2025, 9, 29, 10, 0), naive),
        lambda: elapsed(sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 11, 0), [(naive, None)]),
        lambda: elapsed(sh(2025, 9, 29, 9, 0), sh(2025, 9, 29, 12, 0),
                        [(sh(2025, 9, 29, 11, 0), sh(2025, 9, 29, 10, 0))]),  # resumed before paused
        lambda: due_at(naive, 10),
        lambda: due_at(sh(2025, 9, 29, 10, 0), -1),
        lambda: fraction(sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 11, 0), 0),
        lambda: warnings_due(sh(2025, 9, 29, 10, 0), sh(2025, 9, 29, 11, 0), 60, thresholds=(0, 50)),
    ):
        with pytest.raises(ValueError):
            call()


# -- agreement with add_business_minutes, for any start -------------------------------------------
FROM = sh(2025, 9, 1)
#: Starts to the microsecond over half a year: National Day, its 调休 days, New Year and the 2026 Spring Festival.
starts = st.integers(0, int((sh(2026, 3, 1) - FROM) / timedelta(microseconds=1))).map(
    lambda us: FROM + timedelta(microseconds=us))
pause_lists = st.lists(st.tuples(st.integers(-600, 30000), st.one_of(st.none(), st.integers(0, 6000))), max_size=4)
PROPERTY = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def calendar():
    return WorkCalendar()


@PROPERTY
@given(start=starts, minutes=st.integers(0, 5000))
def test_between_inverts_add_business_minutes(calendar, start, minutes):
    end = calendar.add_business_minutes(start, minutes)
    assert business_minutes_between(start, end, calendar=calendar) == minutes
    assert due_at(start, minutes, [], calendar=calendar) == end


@PROPERTY
@given(start=starts, minutes=st.integers(0, 5000), raw_pauses=pause_lists)
def test_elapsed_reaches_the_target_exactly_at_due_at(calendar, start, minutes, raw_pauses):
    # (offset from the start, duration) in minutes; a duration of None is a pause still open.
    pauses = [(start + timedelta(minutes=offset), None if length is None else
               start + timedelta(minutes=offset + length)) for offset, length in raw_pauses]
    due = due_at(start, minutes, pauses, calendar=calendar)
    if due is None:  # stopped by an open pause before the target was used up (or, for 0, before it ran again)
        opened = min(p for p, r in pauses if r is None)
        assert elapsed(start, opened + timedelta(days=400), pauses, calendar=calendar) == elapsed(
            start, opened, pauses, calendar=calendar) <= minutes
        return
    assert elapsed(start, due, pauses, calendar=calendar) == minutes
    if minutes:
        assert elapsed(start, due - timedelta(microseconds=1), pauses, calendar=calendar) == minutes - 1
