"""What goes into a digest: the user's unread notifications, and for department heads their team."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from portal.extensions import db
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.digest import preview
from portal.notify.models import INAPP
from portal.notify.services import notify, set_preference
from portal.core.roles import DEPT_HEAD, EMPLOYEE
from tests.helpers import sh

DAY = date(2025, 9, 30)
OLD = sh(2025, 9, 25, 9, 0)  # unread for more than 3 days on DAY


def _quiet(user):
    set_preference(user, ANNOUNCEMENT, INAPP)
    return user


def test_unread_notifications_of_the_last_week_newest_first_at_most_ten(make_user):
    user = _quiet(make_user())
    notify(user, ANNOUNCEMENT, "太旧的通知", now=sh(2025, 9, 21, 23, 0))  # before the 7-day window
    for i in range(12):
        notify(user, ANNOUNCEMENT, f"通知{i:02d}", now=sh(2025, 9, 29, 9, i))
    read = notify(user, ANNOUNCEMENT, "已读", now=sh(2025, 9, 29, 10, 0))
    read.read_at = sh(2025, 9, 29, 10, 1)
    db.session.flush()
    [section] = preview(user, DAY)
    assert section["key"] == "notifications"
    assert [i["title"] for i in section["items"]] == [f"通知{i:02d}" for i in range(11, 1, -1)]


def test_a_head_of_several_departments_sees_every_team(make_user, make_department):
    first, second = make_department(name="一部"), make_department(name="二部")
    head = _quiet(make_user(roles=(EMPLOYEE, DEPT_HEAD), department=first, display_name="两部经理"))
    first.head = head
    second.head = head
    a = _quiet(make_user(department=first, display_name="一部员工"))
    b = _quiet(make_user(department=second, display_name="二部员工"))
    twin1 = _quiet(make_user(department=second, display_name="王伟"))
    twin2 = _quiet(make_user(department=second, display_name="王伟"))
    fresh = _quiet(make_user(department=second, display_name="新通知员工"))
    db.session.flush()
    for user, n in ((a, 1), (b, 2), (twin1, 1), (twin2, 3)):
        for i in range(n):
            notify(user, ANNOUNCEMENT, f"旧通知{i}", now=OLD)
    notify(fresh, ANNOUNCEMENT, "昨天的通知", now=sh(2025, 9, 29, 9, 0))  # not overdue yet

    sections = {s["key"]: s for s in preview(head, DAY)}
    assert set(sections) == {"team"}  # the head has nothing unread personally
    titles = [i["title"] for i in sections["team"]["items"]]
    assert len(titles) == 4, titles
    assert sum("一部员工" in t for t in titles) == 1 and sum("二部员工" in t for t in titles) == 1
    assert sum("王伟" in t for t in titles) == 2  # namesakes are two people, not one line
    line = "%(name)s has %(n)d notifications unread for over 3 days"  # each with their own count
    assert sorted(t for t in titles if "王伟" in t) == sorted([_(line, name="王伟", n=1), _(line, name="王伟", n=3)])
    assert _(line, name="二部员工", n=2) in titles
    assert not any("新通知员工" in t for t in titles)

    # Someone who is not a head never gets the team section, even for their own department.
    assert [s["key"] for s in preview(a, DAY)] == ["notifications"]
