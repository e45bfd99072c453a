"""The notification pages, plain and with htmx: centre, bell, read/read-all, digest, preferences,
announcements; and who may open the administrators' pages."""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.notify import registry
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.models import DIGEST, INAPP, Notification, NotificationPreference
from portal.notify.services import notify, set_preference
from portal.org.models import User
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from tests.helpers import HX, assert_full_page, assert_partial, audit, count, count_queries, flashes, text

pytestmark = pytest.mark.usefixtures("drain_queue")

ITEM_RE = re.compile(r'id="notification-(\d+)"')


def _notes(user, n, kind=ANNOUNCEMENT, title="通知", **kw):
    return [notify(user, kind, f"{title}{i}", **kw) for i in range(n)]


# -- centre ---------------------------------------------------------------------------------------
def test_centre_filters_by_status_and_kind(client, login, make_user):
    user, other = make_user(), make_user()
    set_preference(user, ANNOUNCEMENT, INAPP)
    read = notify(user, ANNOUNCEMENT, "已读公告")
    read.read_at = utcnow()
    unread = notify(user, ANNOUNCEMENT, "未读公告")
    task = notify(user, "feedback.assigned", "投诉工单分派给你")
    notify(other, ANNOUNCEMENT, "别人的通知")
    login(client, user)

    def ids(**params):
        response = client.get("/notifications", query_string=params, headers=HX)
        return [int(i) for i in ITEM_RE.findall(assert_partial(response))]

    page = assert_full_page(client.get("/notifications"))
    assert "别人的通知" not in page and "未读公告" in page and "投诉工单分派给你" in page
    assert ids() == [task.id, unread.id, read.id]
    assert ids(status="unread") == [task.id, unread.id]
    assert ids(status="read") == [read.id]
    assert ids(kind="feedback.assigned") == [task.id]
    assert ids(kind=ANNOUNCEMENT, status="unread") == [unread.id]
    assert ids(kind="no.such.kind") == []
    partial = assert_partial(client.get("/notifications?status=unread", headers=HX))
    assert partial.startswith('<div id="notification-list">')


def test_centre_pages_with_a_keyset(client, login, make_user):
    user = make_user()
    set_preference(user, ANNOUNCEMENT, INAPP)
    notes = _notes(user, 35)
    login(client, user)
    first = assert_full_page(client.get("/notifications"))
    first_ids = [int(i) for i in ITEM_RE.findall(first)]
    assert first_ids == sorted((n.id for n in notes), reverse=True)[:30]
    older = re.search(r'href="(/notifications\?[^"]*before=(\d+)[^"]*)"', first)
    assert older and int(older.group(2)) == first_ids[-1]
    url = older.group(1).replace("&amp;", "&")
    second = assert_partial(client.get(url, headers=HX))
    second_ids = [int(i) for i in ITEM_RE.findall(second)]
    assert second_ids == sorted((n.id for n in notes), reverse=True)[30:]
    assert "before=" not in second  # no further page
    # A cursor the page did not make (too large for the database, or not positive) shows the first page.
    for nonsense in ("99999999999999999999", "2147483648", "0", "-5", "abc"):
        response = client.get(f"/notifications?before={nonsense}", headers=HX)
        assert [int(i) for i in ITEM_RE.findall(assert_partial(response))] == first_ids, nonsense
    # before= with a filter keeps the filter
    assert ITEM_RE.findall(text(client.get(f"/notifications?status=read&before={first_ids[0]}", headers=HX))) == []


# -- bell -----------------------------------------------------------------------------------------
def test_bell_is_tiny_and_runs_a_constant_number_of_queries(client, login, make_user):
    user = make_user()
    set_preference(user, ANNOUNCEMENT, INAPP)
    login(client, user)

    def bell():
        with count_queries() as statements:
            response = client.get("/notifications/bell", headers=HX)
        assert response.status_code == 200
        assert len(response.data) < 600, len(response.data)
        assert response.headers["Cache-Control"] == "no-store"
        return response.get_data(as_text=True), len(statements)

    empty, queries_empty = bell()
    assert 'id="bell"' in empty and "bell-count" not in empty
    assert 1 <= queries_empty <= 3  # the logged-in user, their roles, the unread count
    _notes(user, 3)
    three, queries_three = bell()
    assert re.search(r'id="bell-count">3<', three)
    _notes(user, 120, title="批量")
    many, queries_many = bell()
    assert 'id="bell-count">99+<' in many
    assert queries_three == queries_many == queries_empty
    assert len(client.get("/notifications/bell").data) < 600  # plain request: the same fragment


# -- reading --------------------------------------------------------------------------------------
def test_mark_read_plain_and_htmx(client, login, make_user):
    user = make_user()
    set_preference(user, ANNOUNCEMENT, INAPP)
    a, b, c = notify(user, ANNOUNCEMENT, "甲"), notify(user, ANNOUNCEMENT, "乙"), notify(user, ANNOUNCEMENT, "丙", link="/digest")
    login(client, user)

    response = client.post(f"/notifications/{a.id}/read", headers=HX)
    li = assert_partial(response)
    assert li.startswith(f'<li class="list-group-item d-flex justify-content-between align-items-start" id="notification-{a.id}"')
    assert "list-group-item-info" not in li and "hx-post" not in li  # read: no "mark read" button any more
    assert db.session.get(Notification, a.id).read_at is not None

    response = client.post(f"/notifications/{b.id}/read")
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    assert db.session.get(Notification, b.id).read_at is not None

    response = client.post(f"/notifications/{c.id}/read", data={"open": "1"})
    assert response.status_code == 303 and response.headers["Location"] == "/digest"
    assert db.session.get(Notification, c.id).read_at is not None
    # Reading twice is harmless and keeps the first time.
    first_time = db.session.get(Notification, a.id).read_at
    assert client.post(f"/notifications/{a.id}/read", headers=HX).status_code == 200
    assert db.session.get(Notification, a.id).read_at == first_time


def test_nobody_reads_another_users_notification(client, login, make_user):
    owner, intruder = make_user(), make_user()
    note = notify(owner, ANNOUNCEMENT, "私人通知")
    login(client, intruder)
    assert client.post(f"/notifications/{note.id}/read").status_code == 404
    assert client.post(f"/notifications/{note.id}/read", headers=HX).status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    assert db.session.get(Notification, note.id).read_at is None
    assert "私人通知" not in text(client.get("/notifications"))


def test_read_all_marks_only_ones_own(client, login, make_user):
    user, other = make_user(), make_user()
    mine = _notes(user, 4)
    theirs = notify(other, ANNOUNCEMENT, "别人的")
    login(client, user)
    response = client.post("/notifications/read-all")
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    assert all(db.session.get(Notification, n.id).read_at for n in mine)
    assert db.session.get(Notification, theirs.id).read_at is None
    page = client.get("/notifications")
    assert [cat for cat, _msg in flashes(text(page))] == ["success"]
    assert "4" in flashes(text(page))[0][1]
    response = client.post("/notifications/read-all", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/notifications"


# -- digest page ----------------------------------------------------------------------------------
def test_my_digest_shows_unread_notifications(client, login, make_user, client_for):
    user = make_user()
    set_preference(user, ANNOUNCEMENT, DIGEST)
    notify(user, ANNOUNCEMENT, "待回访客户：杭州分店")
    login(client, user)
    for headers in ({}, HX):
        response = client.get("/digest", headers=headers)
        body = text(response)
        assert response.status_code == 200 and "Hx-Request" in response.headers.get("Vary", "").title()
        assert 'data-section="notifications"' in body and "待回访客户：杭州分店" in body
    body = text(client_for(make_user()).get("/digest"))
    assert "digest-section" not in body and "alert-success" in body
    for bad in ("2025-13-01", "0001-01-01", "9999-12-31", "yesterday"):
        assert client.get(f"/digest?day={bad}").status_code == 404, bad
    assert client.get("/digest?day=2025-09-29").status_code == 200


# -- preferences ----------------------------------------------------------------------------------
def test_preferences_page_saves_modes(client, login, make_user):
    user = make_user()
    login(client, user)
    page = assert_full_page(client.get("/notifications/preferences"))
    assert f'name="mode-{ANNOUNCEMENT}" value="instant"' in page
    assert re.search(rf'name="mode-{re.escape(ANNOUNCEMENT)}" value="instant"[^>]*checked', page)

    response = client.post("/notifications/preferences", data={f"mode-{ANNOUNCEMENT}": "digest"})
    assert response.status_code == 303 and response.headers["Location"] == "/notifications/preferences"
    row = db.session.get(NotificationPreference, (user.id, ANNOUNCEMENT))
    assert row is not None and row.mode == "digest"
    page = text(client.get("/notifications/preferences"))
    assert re.search(rf'name="mode-{re.escape(ANNOUNCEMENT)}" value="digest"[^>]*checked', page)
    assert [cat for cat, _m in flashes(page)] == ["success"]
    assert len(audit("notify.preference_set")) == 1


def test_an_invalid_mode_saves_nothing(client, login, make_user, monkeypatch):
    later_kind = "zz.test_kind"  # sorted after the announcement kind: the error comes after a valid change
    monkeypatch.setattr(registry, "notification_kinds", registry.notification_kinds.copy())
    registry.notification_kinds.register(later_kind, registry.NotificationKind(later_kind, "测试类型"))
    user = make_user()
    login(client, user)
    response = client.post("/notifications/preferences",
                           data={f"mode-{ANNOUNCEMENT}": "inapp", f"mode-{later_kind}": "weekly"})
    assert response.status_code == 303
    assert count(NotificationPreference) == 0
    assert audit("notify.preference_set") == []
    page = text(client.get("/notifications/preferences"))
    assert [cat for cat, _m in flashes(page)] == ["danger"]
    response = client.post("/notifications/preferences", data={f"mode-{ANNOUNCEMENT}": "<script>"}, headers=HX)
    assert response.status_code == 204
    assert count(NotificationPreference) == 0


# -- announcements --------------------------------------------------------------------------------
@pytest.fixture
def org(make_user, make_department):
    """Two departments: 服务部 (head + two staff, one inactive) and 质检部 (one staff); plus an admin and a QM."""
    service, quality = make_department(name="服务部"), make_department(name="质检部")
    head = make_user(roles=(EMPLOYEE, DEPT_HEAD), department=service)
    service.head = head
    staff = make_user(department=service)
    make_user(department=service, active=False)
    inspector = make_user(department=quality)
    qm = make_user(roles=(QUALITY_MANAGER,), department=quality)
    boss = make_user(roles=(ADMIN,), department=quality)
    db.session.flush()
    return dict(service=service, quality=quality, head=head, staff=staff, inspector=inspector, qm=qm, boss=boss)


def _announce(client, department_id, request_id=None, headers=None, **extra):
    data = {"department_id": str(department_id), "title": "国庆值班安排", "body": "请各部门按表值班。",
            "request_id": request_id or uuid.uuid4().hex, **extra}
    return client.post("/notifications/announce", data=data, headers=headers or {})


def _received(title="国庆值班安排"):
    return set(db.session.scalars(sa.select(Notification.recipient_id).where(Notification.title == title)))


@pytest.mark.parametrize("role", ["boss", "qm"])
def test_admins_and_quality_managers_address_everyone(role, org, client_for):
    client = client_for(org[role])
    page = text(client.get("/notifications/announce"))
    assert 'value="0"' in page and re.search(r'name="request_id" type="hidden" value="[0-9a-f]{32}"', page)
    response = _announce(client, 0)
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    active = set(db.session.scalars(sa.select(User.id).where(User.active.is_(True))))
    assert len(active) == 5  # everyone but the inactive user
    assert _received() == active
    [event] = audit("notify.announcement")
    assert event.summary["recipients"] == len(active)


def test_a_double_post_notifies_once(org, client_for):
    client = client_for(org["boss"])
    request_id = uuid.uuid4().hex
    assert _announce(client, org["service"].id, request_id).status_code == 303
    assert _announce(client, org["service"].id, request_id, headers=HX).status_code == 204
    assert _received() == {org["head"].id, org["staff"].id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.title == "国庆值班安排")) == 2
    # A new form (new request id) is a new announcement.
    assert _announce(client, org["service"].id).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.title == "国庆值班安排")) == 4


def test_a_department_head_addresses_only_their_department(org, client_for):
    client = client_for(org["head"])
    page = text(client.get("/notifications/announce"))
    assert f'value="{org["service"].id}"' in page
    assert 'value="0"' not in page and f'value="{org["quality"].id}"' not in page

    for target in (org["quality"].id, 0):
        for headers in ({}, HX):
            response = _announce(client, target, headers=headers)
            body = text(response)
            assert response.status_code == 422, body[:300]
            assert ("<html" in body) == (not headers)
            assert 'id="department_id"' in body and "is-invalid" in body
    assert _received() == set()
    assert audit("notify.announcement") == []

    assert _announce(client, org["service"].id).status_code == 303
    assert _received() == {org["head"].id, org["staff"].id}


def test_announcement_form_errors(org, client_for):
    client = client_for(org["boss"])
    assert _announce(client, 0, title="").status_code == 422
    response = _announce(client, 0, request_id="not-a-uuid")
    assert response.status_code == 422 and "alert" in text(response)
    assert count(Notification) == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_employees_may_not_announce(method, org, client_for):
    client = client_for(org["staff"])
    if method == "GET":
        response = client.get("/notifications/announce")
    else:
        response = _announce(client, org["service"].id)
    assert response.status_code == 403
    assert _received() == set()


# -- administrators' pages ------------------------------------------------------------------------
ADMIN_GETS = ["/admin/notify/settings", "/admin/notify/outbox", "/admin/notify/outbox/1", "/admin/notify/jobs",
              "/admin/notify/webhooks", "/admin/notify/webhooks/1", "/admin/calendar/"]
ADMIN_POSTS = ["/admin/notify/settings", "/admin/notify/webhooks", "/admin/notify/webhooks/1",
               "/admin/notify/deliveries/1/retry", "/admin/notify/jobs/abc/retry", "/admin/calendar/overrides"]


@pytest.mark.parametrize("roles", [(EMPLOYEE,), (EMPLOYEE, DEPT_HEAD), (QUALITY_MANAGER,),
                                   (EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER)],
                         ids=["employee", "dept_head", "quality_manager", "all_but_admin"])
def test_admin_pages_refuse_everyone_but_admins(roles, make_user, client_for):
    client = client_for(make_user(roles=roles))
    for url in ADMIN_GETS:
        assert client.get(url).status_code == 403, url
        assert client.get(url, headers=HX).status_code == 403, url
    for url in ADMIN_POSTS:
        assert client.post(url, data={"day": "2025-10-01", "is_workday": "1", "url": "https://x.cn"}).status_code == 403, url


def test_admin_pages_send_anonymous_users_to_login(client):
    for url in ADMIN_GETS:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), url
    token = client.csrf_token()
    for url in ADMIN_POSTS:
        response = client.post(url, headers={"X-CSRFToken": token})
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url


@pytest.mark.usefixtures("redis_url")
def test_admin_pages_open_for_admins(admin_client):
    for url in ["/admin/notify/settings", "/admin/notify/outbox", "/admin/notify/jobs", "/admin/notify/webhooks",
                "/admin/calendar/"]:
        assert_full_page(admin_client.get(url))
    jobs = text(admin_client.get("/admin/notify/jobs"))
    assert 'data-count="queued"' in jobs and "failed-deliveries" in jobs
