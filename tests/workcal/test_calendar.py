"""The working-day calendar: statutory holidays and 调休 from chinese_calendar, overrides that win both
ways, the Monday–Friday fallback for years the library does not know, business-minute arithmetic, the
digest schedule, and the administrators' month page."""
from __future__ import annotations

from datetime import date, datetime, timezone

import chinese_calendar
import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied
from portal.extensions import db
from portal.notify.digest import digest_due
from portal.workcal import services
from portal.workcal.models import CalendarOverride
from portal.workcal.services import (
    WorkingHours, add_business_minutes, is_workday, library_covers, month_view, next_working_moment,
)
from tests.helpers import HX, SHANGHAI, assert_full_page, assert_partial, audit, field_has_error, sh, text


def _override(admin, day, workday, note=""):
    return services.set_override(admin, day, workday, note)


# -- is_workday -----------------------------------------------------------------------------------
def test_the_library_knows_national_day_and_its_make_up_workdays():
    assert is_workday(date(2025, 10, 1)) is False  # 国庆节
    assert all(not is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert is_workday(date(2025, 9, 28)) is True  # a Sunday, 调休 working day
    assert is_workday(date(2025, 10, 11)) is True  # a Saturday, 调休 working day
    assert is_workday(date(2025, 9, 27)) is False  # an ordinary Saturday
    assert is_workday(date(2025, 9, 29)) is True  # an ordinary Monday


def test_overrides_win_over_the_library_both_ways(admin):
    _override(admin, date(2025, 10, 1), True, "值班")
    _override(admin, date(2025, 9, 28), False, "公司调休取消")
    assert is_workday(date(2025, 10, 1)) is True
    assert is_workday(date(2025, 9, 28)) is False
    assert is_workday(date(2025, 10, 2)) is False  # only the overridden days change
    services.delete_override(admin, date(2025, 10, 1))
    assert is_workday(date(2025, 10, 1)) is False


def test_years_beyond_the_library_fall_back_to_monday_to_friday(admin):
    assert not library_covers(date(2027, 1, 1)), "chinese_calendar now knows 2027: pick a later year here"
    assert is_workday(date(2027, 1, 1)) is True  # a Friday: New Year's Day is unknown without an override
    assert is_workday(date(2027, 1, 2)) is False  # Saturday
    assert is_workday(date(2027, 1, 4)) is True  # Monday
    _override(admin, date(2027, 1, 1), False, "元旦")
    _override(admin, date(2027, 1, 2), True, "调休")
    assert is_workday(date(2027, 1, 1)) is False
    assert is_workday(date(2027, 1, 2)) is True
    sources = {d["day"]: d["source"] for d in month_view(2027, 1)}
    assert sources[date(2027, 1, 1)] == "override" and sources[date(2027, 1, 5)] == "weekend-rule"


def test_only_admins_set_overrides(make_user):
    with pytest.raises(PermissionDenied):
        services.set_override(make_user(), date(2025, 10, 1), True)
    assert db.session.get(CalendarOverride, date(2025, 10, 1)) is None


# -- business minutes -----------------------------------------------------------------------------
@pytest.mark.parametrize("start, minutes, expected", [
    (sh(2025, 9, 29, 10, 0), 30, sh(2025, 9, 29, 10, 30)),  # inside a period
    (sh(2025, 9, 29, 11, 30), 60, sh(2025, 9, 29, 14, 0)),  # across lunch
    (sh(2025, 9, 29, 11, 0), 60, sh(2025, 9, 29, 12, 0)),  # ends exactly at the end of the morning
    (sh(2025, 9, 29, 9, 0), 420, sh(2025, 9, 29, 17, 30)),  # a whole working day is 3 + 4 hours
    (sh(2025, 9, 29, 9, 0), 421, sh(2025, 9, 30, 9, 1)),
    (sh(2025, 9, 19, 17, 0), 60, sh(2025, 9, 22, 9, 30)),  # Friday → across the weekend → Monday
    (sh(2025, 9, 26, 17, 0), 60, sh(2025, 9, 28, 9, 30)),  # Friday → the 调休 Sunday is a working day
    (sh(2025, 9, 30, 17, 0), 60, sh(2025, 10, 9, 9, 30)),  # across the National Day holiday (10-01..10-08)
    (sh(2025, 10, 10, 17, 0), 60, sh(2025, 10, 11, 9, 30)),  # Friday → the 调休 Saturday 10-11
    (sh(2025, 10, 11, 17, 0), 60, sh(2025, 10, 13, 9, 30)),  # Saturday (working) → Sunday off → Monday
    (sh(2025, 9, 29, 7, 0), 30, sh(2025, 9, 29, 9, 30)),  # start before work
    (sh(2025, 9, 29, 12, 45), 30, sh(2025, 9, 29, 14, 0)),  # start at lunch
    (sh(2025, 9, 29, 18, 0), 30, sh(2025, 9, 30, 9, 30)),  # start after work
    (sh(2025, 10, 3, 10, 0), 30, sh(2025, 10, 9, 9, 30)),  # start on a holiday
    (sh(2025, 9, 29, 10, 15), 0, sh(2025, 9, 29, 10, 15)),  # 0 minutes inside hours: the start itself
    (sh(2025, 9, 29, 12, 0), 0, sh(2025, 9, 29, 13, 30)),  # 0 minutes at noon: after lunch
    (sh(2025, 9, 29, 17, 30), 0, sh(2025, 9, 30, 9, 0)),  # 0 minutes at closing time: next morning
    (sh(2025, 9, 20, 10, 0), 0, sh(2025, 9, 22, 9, 0)),  # 0 minutes on a Saturday: Monday morning
    (sh(2025, 9, 30, 17, 30), 0, sh(2025, 10, 9, 9, 0)),  # 0 minutes before the holiday
])
def test_add_business_minutes(start, minutes, expected):
    assert add_business_minutes(start, minutes) == expected


def test_add_business_minutes_agrees_with_the_library_around_national_day():
    # The fixture data the table above relies on, straight from chinese_calendar.
    assert chinese_calendar.is_workday(date(2025, 9, 30)) and chinese_calendar.is_workday(date(2025, 10, 9))
    assert not any(chinese_calendar.is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert chinese_calendar.is_workday(date(2025, 10, 11)) and not chinese_calendar.is_workday(date(2025, 10, 12))
    # 420 minutes per working day: from the last working afternoon before the holiday, three working days on
    # are 10-09, 10-10 and the 调休 Saturday 10-11.
    assert WorkingHours.parse(services.DEFAULT_WORKING_HOURS).minutes_per_day == 420
    assert add_business_minutes(sh(2025, 9, 30, 17, 30), 3 * 420) == sh(2025, 10, 11, 17, 30)


def test_results_keep_the_time_zone_of_the_start():
    start = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc)  # 17:00 in Shanghai
    result = add_business_minutes(start, 60)
    assert result.tzinfo is timezone.utc
    assert result == datetime(2025, 10, 9, 1, 30, tzinfo=timezone.utc)
    assert result.astimezone(SHANGHAI).hour == 9
    assert next_working_moment(start) == start


def test_overrides_change_the_arithmetic(admin):
    _override(admin, date(2025, 10, 1), True)
    assert add_business_minutes(sh(2025, 9, 30, 17, 0), 60) == sh(2025, 10, 1, 9, 30)
    _override(admin, date(2025, 9, 29), False)
    assert next_working_moment(sh(2025, 9, 29, 10, 0)) == sh(2025, 9, 30, 9, 0)


def test_naive_and_negative_inputs_are_refused():
    with pytest.raises(ValueError):
        add_business_minutes(datetime(2025, 9, 29, 10, 0), 30)
    with pytest.raises(ValueError):
        next_working_moment(datetime(2025, 9, 29, 10, 0))
    with pytest.raises(ValueError):
        add_business_minutes(sh(2025, 9, 29, 10, 0), -1)


def test_custom_working_hours():
    hours = WorkingHours.parse("13:00-17:00, 08:00-12:00")
    assert hours.periods[0][0].hour == 8 and hours.minutes_per_day == 480
    assert add_business_minutes(sh(2025, 9, 29, 11, 30), 60, hours) == sh(2025, 9, 29, 13, 30)
    for bad in ("", "09:00", "12:00-09:00", "09:00-12:00,11:00-13:00", "9h-12h"):
        with pytest.raises(ValueError):
            WorkingHours.parse(bad)


# -- the digest schedule --------------------------------------------------------------------------
@pytest.mark.parametrize("now, expected", [
    (sh(2025, 9, 29, 8, 29), None),  # a working Monday, before 08:30
    (sh(2025, 9, 29, 8, 30), date(2025, 9, 29)),
    (sh(2025, 9, 29, 23, 59), date(2025, 9, 29)),
    (sh(2025, 10, 1, 8, 30), None),  # National Day
    (sh(2025, 10, 1, 12, 0), None),
    (sh(2025, 9, 20, 9, 0), None),  # an ordinary Saturday
    (sh(2025, 9, 28, 8, 30), date(2025, 9, 28)),  # the 调休 Sunday
    (sh(2025, 9, 28, 8, 29), None),
    (sh(2025, 10, 11, 8, 30), date(2025, 10, 11)),  # the 调休 Saturday
])
def test_digest_due(now, expected):
    assert digest_due(now, "08:30") == expected


def test_digest_due_uses_the_shanghai_date_and_overrides(admin):
    # 01:00 UTC on 10-09 is 09:00 in Shanghai on 10-09 (a working day), while the UTC date is the same day;
    # 20:00 UTC on 10-08 is 04:00 on 10-09 in Shanghai: not yet.
    assert digest_due(datetime(2025, 10, 9, 1, 0, tzinfo=timezone.utc), "08:30") == date(2025, 10, 9)
    assert digest_due(datetime(2025, 10, 8, 20, 0, tzinfo=timezone.utc), "08:30") is None
    assert digest_due(sh(2025, 9, 29, 7, 0), "07:00") == date(2025, 9, 29)
    _override(admin, date(2025, 10, 1), True)
    assert digest_due(sh(2025, 10, 1, 8, 30), "08:30") == date(2025, 10, 1)


# -- the administrators' month page ---------------------------------------------------------------
def _cell(body: str, day: str) -> str:
    start = body.index(f'data-day="{day}"')
    return body[body.rindex("<td", 0, start):body.index("</td>", start)]


def test_month_page_plain_and_htmx(admin_client):
    body = assert_full_page(admin_client.get("/admin/calendar/?year=2025&month=10"))
    assert "day-off source-library" in _cell(body, "2025-10-01")
    assert "day-work source-library" in _cell(body, "2025-10-11")
    assert "day-off source-library" in _cell(body, "2025-10-12")
    assert body.count('data-day="2025-10-') == 31
    assert "/admin/calendar/?year=2025&amp;month=9" in body and "/admin/calendar/?year=2025&amp;month=11" in body

    partial = assert_partial(admin_client.get("/admin/calendar/?year=2025&month=9", headers=HX))
    assert 'id="calendar-month"' in partial
    assert partial.count('data-day="2025-09-') == 30
    assert "day-work source-library" in _cell(partial, "2025-09-28")

    future = text(admin_client.get("/admin/calendar/?year=2027&month=1", headers=HX))
    assert "alert-warning" in future and "source-weekend-rule" in _cell(future, "2027-01-01")
    # Nonsense months fall back to the current one instead of failing.
    assert admin_client.get("/admin/calendar/?year=1900&month=13").status_code == 200


def test_setting_and_removing_an_override_is_audited(admin_client, admin):
    url = "/admin/calendar/overrides?year=2025&month=10"
    response = admin_client.post(url, data={"day": "2025-10-01", "is_workday": "1", "note": "客服中心值班"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/calendar/?year=2025&month=10"
    row = db.session.get(CalendarOverride, date(2025, 10, 1))
    assert row.is_workday is True and row.note == "客服中心值班" and row.created_by_id == admin.id
    [event] = audit("calendar.override_set")
    assert event.object_id == "2025-10-01" and event.actor_id == admin.id
    assert event.summary["after"] == {"is_workday": True, "note": "客服中心值班"}
    body = text(admin_client.get("/admin/calendar/?year=2025&month=10"))
    assert "day-work source-override" in _cell(body, "2025-10-01")

    response = admin_client.post(url, data={"day": "2025-10-01", "is_workday": "0", "note": ""}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/admin/calendar/?year=2025&month=10"
    db.session.refresh(row)
    assert row.is_workday is False
    assert audit("calendar.override_set")[-1].summary["before"]["is_workday"] is True

    response = admin_client.post(url, data={"day": "2025-10-01", "is_workday": "1", "delete": "1"})
    assert response.status_code == 303
    assert db.session.get(CalendarOverride, date(2025, 10, 1)) is None
    [deleted] = audit("calendar.override_delete")
    assert deleted.object_id == "2025-10-01" and deleted.summary["before"]["is_workday"] is False
    assert is_workday(date(2025, 10, 1)) is False


@pytest.mark.parametrize("data, field", [
    ({"day": "2025-02-30", "is_workday": "1"}, "day"),
    ({"day": "abc", "is_workday": "1"}, "day"),
    ({"day": "", "is_workday": "1"}, "day"),
    ({"day": "2025/10/01", "is_workday": "1"}, "day"),
    ({"day": "2025-10-01", "is_workday": "2"}, "is_workday"),
    ({"day": "2025-10-01", "is_workday": "1", "note": "长" * 101}, "note"),
])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_bad_overrides_are_refused(admin_client, data, field, headers):
    response = admin_client.post("/admin/calendar/overrides?year=2025&month=10", data=data, headers=headers)
    body = text(response)
    assert response.status_code == 422
    assert field_has_error(body, field)
    assert ("<html" in body) == (not headers)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarOverride)) == 0
    assert audit("calendar.override_set") == []
