"""Login sessions: logout ends the session (a replayed cookie finds nothing), "log out everywhere" ends
every browser's, for the user and for an administrator, audited."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import UserSession
from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.extensions import db
from tests.helpers import HX

COOKIE = "session"


def _lands_on_login(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_a_cookie_saved_before_logout_no_longer_works(client, make_user, login):
    user = make_user()
    login(client, user)
    saved = client.get_cookie(COOKIE).value
    assert client.get("/notifications").status_code == 200
    assert client.post("/logout").status_code in (302, 303)

    client.set_cookie(COOKIE, saved)  # an attacker replays the cookie copied before the logout
    assert _lands_on_login(client.get("/notifications"))
    refused = client.post("/notifications/preferences", data={"mode-system.announcement": "inapp"})
    assert _lands_on_login(refused)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "notify.preference_set")) == 0
    ended = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)).all()
    assert [(s.ended_reason, s.ended_at is not None) for s in ended] == [("logout", True)]


def test_logout_ends_only_this_browsers_session(client_for, make_user):
    user = make_user()
    office, phone = client_for(user), client_for(user)
    assert office.post("/logout").status_code in (302, 303)
    assert _lands_on_login(office.get("/notifications"))
    assert phone.get("/notifications").status_code == 200


def test_log_out_everywhere_ends_every_browser_of_mine(client_for, make_user):
    user = make_user()
    office, phone = client_for(user), client_for(user)
    page = office.get("/account/sessions")
    assert page.status_code == 200 and page.get_data(as_text=True).count("<tr>") == 3  # header + 2 sessions
    response = office.post("/account/sessions/end-all", headers=HX)
    assert response.headers["HX-Redirect"].endswith("/login")
    assert _lands_on_login(office.get("/notifications"))
    assert _lands_on_login(phone.get("/notifications"))
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.logout_everywhere")).all()
    assert event.actor_id == user.id and event.object_id == str(user.id) and event.summary["sessions"] == 2


def test_an_administrator_logs_a_user_out_everywhere(client_for, make_user, admin):
    user = make_user(display_name="王五")
    laptop = client_for(user)
    boss = client_for(admin)
    response = boss.post(f"/admin/users/{user.id}/sessions/end-all")
    assert response.status_code in (302, 303)
    assert _lands_on_login(laptop.get("/notifications"))
    assert boss.get("/notifications").status_code == 200  # the administrator's own session is untouched
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.logout_everywhere")).all()
    assert event.actor_id == admin.id and event.object_id == str(user.id)
    ended = db.session.scalars(sa.select(UserSession.ended_reason).where(UserSession.user_id == user.id)).all()
    assert ended == ["admin"]


@pytest.mark.parametrize("role", [EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER])
def test_only_administrators_end_someone_elses_sessions(client_for, make_user, role):
    victim = make_user()
    victim_client = client_for(victim)
    other = client_for(make_user(roles=(role,)))
    assert other.post(f"/admin/users/{victim.id}/sessions/end-all").status_code == 403
    assert victim_client.get("/notifications").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.logout_everywhere")) == 0


def test_an_unknown_user_is_a_404_for_the_administrator(client_for, admin):
    assert client_for(admin).post("/admin/users/999999/sessions/end-all").status_code == 404


def test_the_sessions_page_marks_this_browser(client_for, make_user):
    user = make_user()
    client = client_for(user)
    client_for(user)
    markup = client.get("/account/sessions").get_data(as_text=True)
    assert markup.count('class="badge text-bg-primary"') == 1


@pytest.mark.parametrize("session_id", ["", "1", "1:nonce", "1:nonce:", "x:y:z", "²:a:b", "99999999999:a:b",
                                        "1:" + "a" * 5000 + ":b"])
def test_malformed_session_ids_load_nobody(app, session_id):
    from portal.auth.services import session_user

    with app.test_request_context():
        assert session_user(session_id) is None


def test_the_user_list_offers_the_administrator_the_button(client_for, make_user, admin):
    make_user(username="listed_user")
    markup = client_for(admin).get("/admin/org/users?q=listed_user").get_data(as_text=True)
    assert "/sessions/end-all" in markup
