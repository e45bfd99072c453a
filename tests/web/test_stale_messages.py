"""A message never outlives its action: every htmx form post replaces the page's message box out of band,
so "部门…已创建。" does not stand next to the next error, and a replaced temporary password disappears."""
from __future__ import annotations

import re

from portal.core.roles import ADMIN
from tests.helpers import HX, msg

OOB_BOX = re.compile(r'<div id="flashes" hx-swap-oob="true">(.*?)</div>\s*$', re.S)


def _oob_box(body: str) -> str:
    match = OOB_BOX.search(body)
    assert match, body[-400:]
    return match.group(1)


def test_a_failed_create_clears_the_earlier_success_message(client_for, make_user):
    admin = client_for(make_user(roles=(ADMIN,)))
    created = admin.post("/admin/org/departments", data={"code": "KF9", "name": "客服九部"})
    assert created.status_code == 303
    page = admin.get("/admin/org/departments").get_data(as_text=True)
    assert msg("Department %(name)s created.", name="客服九部") in page  # shown once, on the page it led to
    failed = admin.post("/admin/org/departments", data={"code": "KF9", "name": "客服九部"}, headers=HX)
    assert failed.status_code == 422
    box = _oob_box(failed.get_data(as_text=True))
    assert msg("Department %(name)s created.", name="客服九部") not in box and "alert" not in box


def test_a_second_reset_replaces_the_first_temporary_password(client_for, make_user):
    admin = client_for(make_user(roles=(ADMIN,)))
    user = make_user(display_name="王五")
    first = admin.post(f"/admin/org/users/{user.id}/reset-password", headers=HX).get_data(as_text=True)
    second = admin.post(f"/admin/org/users/{user.id}/reset-password", headers=HX).get_data(as_text=True)
    pw = re.compile(r"temp-password\">.*?：(\S+?)（", re.S)
    first_pw, second_pw = pw.search(first).group(1), pw.search(second).group(1)
    assert first_pw != second_pw
    assert first_pw not in second  # neither in the row nor in the message box
    assert first_pw not in _oob_box(second)


def test_gets_leave_the_message_box_alone(client_for, make_user):
    """The bell polls with GET: it must not take a message meant for the page a redirect is loading."""
    client = client_for(make_user())
    assert 'id="flashes"' not in client.get("/notifications/bell", headers=HX).get_data(as_text=True)
