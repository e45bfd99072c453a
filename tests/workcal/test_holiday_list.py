"""A year the holiday library does not cover (issue 8, item 14): administrators are warned from November
(and all year when the current year is missing), and enter the State Council's list in one go, as lines or
as an .xlsx/.csv file, with a preview of exactly what changes; applying it is audited and idempotent, and
the year then counts as covered. The month page says which source decided each day.

The 2027 list below is made up for the tests (the official dates were not published when this was written).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from portal.core.uploads import PendingImport
from portal.extensions import db
from portal.notify.jobs import calendar_coverage
from portal.notify.models import Notification
from portal.notify.workcal_watch import KIND, warn_uncovered_years
from portal.workcal import holidays, services
from portal.workcal.models import CalendarOverride, CalendarYear
from portal.workcal.services import is_workday, library_covers, month_view, uncovered_years, year_covered
from portal.workcal.holidays import MAX_LINES
from tests.helpers import HX, assert_full_page, assert_partial, audit, count, field_has_error, msg, text

PAGE = "/admin/calendar/holidays"
LIST_2027 = """# 国务院办公厅关于2027年部分节假日安排的通知（测试用，非官方）
2027-01-01 休 元旦
2027-02-06 班 春节调休
2027-02-08~2027-02-14 休 春节
2027-02-20 班 春节调休
"""


@pytest.fixture(autouse=True)
def _2027_is_unknown():
    assert not library_covers(date(2027, 1, 1)), "chinese_calendar now knows 2027: use a later year in these tests"


@pytest.fixture
def today(monkeypatch):
    """``today(date)``: freeze the portal's idea of today."""
    def freeze(day: date):
        monkeypatch.setattr(services, "local_today", lambda: day)
        return day
    return freeze


def pending_id(body: str) -> int:
    return int(re.search(rf'action="{PAGE}/(\d+)/apply"', body).group(1))


# -- when to warn ---------------------------------------------------------------------------------
def test_next_year_is_warned_about_from_november_and_the_current_year_always():
    assert uncovered_years(date(2026, 10, 31)) == []
    assert uncovered_years(date(2026, 11, 1)) == [2027]
    assert uncovered_years(date(2026, 12, 31)) == [2027]
    assert uncovered_years(date(2027, 1, 1)) == [2027]
    assert uncovered_years(date(2027, 11, 15)) == [2027, 2028]
    assert uncovered_years(date(2025, 11, 15)) == []  # 2026 is in the library


def test_the_banner_appears_on_the_calendar_page_when_next_year_is_not_covered(admin_client, today):
    today(date(2026, 10, 20))
    body = assert_full_page(admin_client.get("/admin/calendar/?year=2026&month=10"))
    assert "calendar-coverage-warning" not in body
    today(date(2026, 11, 2))
    for headers in ({}, HX):
        body = text(admin_client.get("/admin/calendar/?year=2026&month=11", headers=headers))
        assert 'class="alert alert-danger calendar-coverage-warning" role="alert" data-year="2027"' in body
        assert PAGE in body


def test_the_administrators_are_notified_once_a_day(admin, make_user, today):
    from portal.core.roles import ADMIN

    other_admin = make_user("admin_2", roles=(ADMIN,))
    employee = make_user()
    assert warn_uncovered_years(date(2026, 10, 31)) == {}
    assert warn_uncovered_years(date(2026, 11, 1)) == {2027: 2}
    assert warn_uncovered_years(date(2026, 11, 1)) == {2027: 2}  # the same notifications, not new ones
    notes = list(db.session.scalars(sa.select(Notification).where(Notification.kind == KIND)))
    assert sorted(n.recipient_id for n in notes) == sorted([admin.id, other_admin.id])
    assert all("2027" in n.title and n.link == PAGE for n in notes)
    assert employee.id not in {n.recipient_id for n in notes}
    warn_uncovered_years(date(2026, 11, 2))
    assert count(Notification, Notification.kind == KIND) == 4  # one more per admin the next day


@pytest.mark.committing
def test_the_daily_job_notifies_and_commits(admin):
    assert calendar_coverage("2026-11-03") == {"2027": 1}
    db.session.expire_all()
    assert count(Notification, Notification.kind == KIND, Notification.recipient_id == admin.id) == 1
    assert calendar_coverage("2026-11-03") == {"2027": 1}
    assert count(Notification, Notification.kind == KIND) == 1


def test_the_daily_job_is_scheduled():
    from portal.core.registry import cron_jobs

    assert "calendar_coverage" in [job.name for job in cron_jobs]


# -- entering the list ----------------------------------------------------------------------------
def test_the_typed_list_is_previewed_then_applied_once_and_changes_is_workday(admin_client, admin, today):
    today(date(2026, 11, 5))
    assert is_workday(date(2027, 2, 6)) is False  # a Saturday: the fallback says day off
    assert is_workday(date(2027, 2, 8)) is True  # a Monday: the fallback says working day

    response = admin_client.post(PAGE, data={"lines": LIST_2027}, headers=HX)
    body = assert_partial(response)
    assert 'id="holiday-preview"' in body and "holiday-changes" in body
    for day in ("2027-01-01", "2027-02-06", "2027-02-08", "2027-02-11", "2027-02-20"):
        assert f'data-day="{day}"' in body
    # Only the days whose status or source changes are listed: 2027-02-13/14 are a weekend already, but they
    # become overrides (the source changes), so all 10 days are listed.
    assert body.count('<tr data-day="2027-') == 10
    assert count(CalendarOverride) == 0 and not year_covered(2027)  # nothing written yet

    response = admin_client.post(f"{PAGE}/{pending_id(body)}/apply")
    assert response.status_code == 303
    assert is_workday(date(2027, 2, 6)) is True  # the make-up Saturday is a working day
    assert is_workday(date(2027, 2, 8)) is False  # Spring Festival is a day off
    assert is_workday(date(2027, 1, 1)) is False and is_workday(date(2027, 2, 20)) is True
    assert is_workday(date(2027, 2, 15)) is True  # untouched days keep the fallback
    assert year_covered(2027) and uncovered_years(date(2026, 11, 5)) == []
    [event] = audit("calendar.year_entered")
    assert event.object_id == "2027" and event.actor_id == admin.id
    assert event.summary["after"]["2027-02-06"] == {"is_workday": True, "note": "春节调休"}
    assert event.summary["before"]["2027-02-06"] == {"is_workday": False, "source": "weekend-rule"}

    # A second click, and the same list again: nothing changes.
    admin_client.post(f"{PAGE}/{pending_id(body)}/apply")
    again = text(admin_client.post(PAGE, data={"lines": LIST_2027}, headers=HX))
    assert "/apply" not in again and "holiday-changes" not in again
    assert len(audit("calendar.year_entered")) == 1 and count(CalendarOverride) == 10

    # The banner is gone and the month page says where each day comes from.
    page = text(admin_client.get("/admin/calendar/?year=2027&month=2"))
    assert "calendar-coverage-warning" not in page
    sources = {d["day"]: d["source"] for d in month_view(2027, 2)}
    assert sources[date(2027, 2, 6)] == "override" and sources[date(2027, 2, 15)] == "weekend-rule"
    assert {d["source"] for d in month_view(2025, 10)} == {"library"}


def test_changing_one_line_changes_only_that_day(admin):
    pending, plan = holidays.preview_text(admin, LIST_2027)
    holidays.apply_list(admin, pending.id)
    pending, plan = holidays.preview_text(admin, LIST_2027.replace("2027-02-20 班 春节调休", "2027-02-20 休 公司假"))
    assert [(e.day, e.workday, e.before_source) for e in plan.changes] == [(date(2027, 2, 20), False, "override")]
    holidays.apply_list(admin, pending.id)
    assert is_workday(date(2027, 2, 20)) is False


def _xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv(rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


ROWS = [["日期", "结束日期", "状态", "说明"],
        [date(2027, 1, 1), None, "休", "元旦"],
        ["2027-02-06", "", "班", "春节调休"],
        ["2027-02-08", "2027-02-14", "休", "春节"]]


@pytest.mark.parametrize("name, content", [
    ("2027节假日.xlsx", _xlsx(ROWS)),
    ("holidays.csv", _csv([[str(c) if c else "" for c in r] for r in ROWS], "gb18030")),
])
def test_an_uploaded_list_is_previewed_and_applied(admin_client, name, content):
    response = admin_client.post(PAGE, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")
    body = assert_full_page(response)
    assert body.count('<tr data-day="2027-') == 9
    assert count(CalendarOverride) == 0
    assert count(PendingImport, PendingImport.kind == "holidays") == 1
    assert admin_client.post(f"{PAGE}/{pending_id(body)}/apply").status_code == 303
    assert is_workday(date(2027, 2, 6)) is True and is_workday(date(2027, 2, 8)) is False
    assert db.session.get(CalendarYear, 2027).source == "upload"


@pytest.mark.parametrize("lines, expected", [
    ("2027-02-30 休 春节", "第 1 行"),
    ("2027-02-08 放风筝", "第 1 行"),
    ("2027-02-14~2027-02-08 休", "第 1 行"),
    ("2027-01-01 休 元旦\n2027-01-01 班 调休", "第 2 行"),
    ("2027-01-01 休\n2028-01-01 休", "2027, 2028"),
    ("# only a comment", ""),
])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_bad_list_is_refused_and_nothing_is_written(admin_client, lines, expected, headers):
    response = admin_client.post(PAGE, data={"lines": lines}, headers=headers)
    assert response.status_code == 422
    body = text(response)
    assert expected in body or expected == ""
    assert ("<html" in body) == (not headers)
    assert count(CalendarOverride) == 0 and count(PendingImport) == 0 and count(CalendarYear) == 0


def test_only_administrators_enter_lists(make_user, login, client):
    from portal.core.errors import PermissionDenied

    user = make_user()
    with pytest.raises(PermissionDenied):
        holidays.preview_text(user, LIST_2027)
    login(client, user)
    assert client.get(PAGE).status_code in (403, 404)


def test_another_admins_pending_list_cannot_be_applied(admin, make_user, login, client):
    from portal.core.roles import ADMIN

    pending, _plan = holidays.preview_text(admin, LIST_2027)
    db.session.flush()
    login(client, make_user("admin_other", roles=(ADMIN,)))
    assert client.post(f"{PAGE}/{pending.id}/apply").status_code == 404
    assert count(CalendarOverride) == 0


def test_the_page_plain_and_htmx(admin_client, today):
    today(date(2026, 12, 2))
    body = assert_full_page(admin_client.get(PAGE))
    assert field_has_error(body, "lines") is False and "calendar-coverage-warning" in body
    assert "State Council" in body or "国务院" in body


def test_library_holidays_are_named_in_chinese(admin_client):
    page = admin_client.get("/admin/calendar/?year=2026&month=10").get_data(as_text=True)
    assert "国庆节" in page and "National Day" not in page


def test_a_csv_as_wide_as_the_xfd_file_is_refused(admin_client):
    """The holiday list's CSV has a spreadsheet's bounds too: 16,384 cells on a line is no holiday list."""
    content = ("2027-01-01" + "," * 16_383 + "休\n").encode()  # a value in the 16,384th column, as at XFD
    response = admin_client.post(PAGE, data={"file": (io.BytesIO(content), "wide.csv")},
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert msg("The spreadsheet is too large: at most %(rows)d rows and %(columns)d columns.", rows=MAX_LINES,
               columns=256) in response.get_data(as_text=True)
    assert count(PendingImport, PendingImport.kind == "holidays") == 0
