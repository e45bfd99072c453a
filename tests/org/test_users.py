"""User administration (/admin/org/users…): list and search, create, inline edit, deactivate,
password reset, the audit trail of each change, and who may do any of it."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.core.uploads import PendingImport
from portal.audit.services import verify_chain
from portal.org.accounts import set_password
from portal.core.errors import PermissionDenied, ServiceError
from portal.extensions import db
from portal.org import roster, services
from portal.org.models import Position, User
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from tests.helpers import (
    DEFAULT_PASSWORD, HX, assert_full_page, assert_page, assert_partial, audit, audit_count, field_has_error, flashes,
    plain_text, text,
)
from tests.org.helpers import NON_ADMIN_ROLES, TEMP_PASSWORD_RE, db_state, user_by_name, user_count, user_row_ids

USERS = "/admin/org/users"


def user_form(**overrides) -> dict:
    data = {"username": "wangwu", "display_name": "王五", "email": "wangwu@example.cn",
            "department_id": "", "position_id": "", "roles": [EMPLOYEE]}
    data.update(overrides)
    return data


def form_of(user: User, **overrides) -> dict:
    data = {"username": user.username, "display_name": user.display_name, "email": user.email,
            "department_id": str(user.department_id or ""), "position_id": str(user.position_id or ""),
            "roles": sorted(user.roles)}
    data.update(overrides)
    return data


# == list, search, filters, pagination ============================================================
def test_user_list_full_page_and_partial(admin_client, admin):
    page = assert_full_page(admin_client.get(USERS))
    assert 'id="user-filters"' in page and 'id="user-table"' in page
    assert f'<tr id="user-{admin.id}"' in page

    partial = assert_partial(admin_client.get(USERS, headers=HX))
    assert partial.lstrip().startswith('<div id="user-table">')
    assert 'id="user-filters"' not in partial  # the search form stays; only the table is swapped
    assert f'<tr id="user-{admin.id}"' in partial


def test_boosted_navigation_gets_the_full_page(admin_client):
    assert_full_page(admin_client.get(USERS, headers={**HX, "HX-Boosted": "true"}))


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "query, expected",
    [
        ("zhao", {"zhaoliu"}),  # username
        ("ZHAO", {"zhaoliu"}),  # case-insensitive
        ("赵六", {"zhaoliu"}),  # display name
        ("孙", {"sunqi"}),  # part of a display name
        ("qa-team.cn", {"sunqi"}),  # email domain
        ("@example.cn", {"zhaoliu"}),
        ("  zhaoliu  ", {"zhaoliu"}),  # surrounding blanks are ignored
        ("nobody-matches", set()),
    ],
)
def test_active_search_matches_username_name_and_email(admin_client, make_user, query, expected, hx):
    zhao = make_user("zhaoliu", display_name="赵六")
    sun = make_user("sunqi", display_name="孙七")
    sun.email = "s7@qa-team.cn"
    db.session.flush()
    response = admin_client.get(USERS, query_string={"q": query}, headers=HX if hx else {})
    body = assert_page(response, hx)
    found = {u for u, user in (("zhaoliu", zhao), ("sunqi", sun)) if f'<tr id="user-{user.id}"' in body}
    assert found == expected
    if not expected:
        assert "colspan=\"8\"" in body  # the “no users match” row


def test_search_treats_like_wildcards_literally(admin_client, make_user):
    underscore = make_user("ab_cd")
    other = make_user("abxcd")
    body = assert_partial(admin_client.get(USERS, query_string={"q": "b_c"}, headers=HX))
    assert user_row_ids(body) == [underscore.id]
    body = assert_partial(admin_client.get(USERS, query_string={"q": "%"}, headers=HX))
    assert other.id not in user_row_ids(body) and underscore.id not in user_row_ids(body)


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_department_filter(admin_client, make_user, make_department, hx):
    sales, service = make_department("销售部"), make_department("客服部")
    in_sales = make_user(department=sales)
    in_service = make_user(department=service)
    response = admin_client.get(USERS, query_string={"department": sales.id}, headers=HX if hx else {})
    body = assert_page(response, hx)
    assert user_row_ids(body) == [in_sales.id]
    assert in_service.id not in user_row_ids(body)
    if not hx:  # the filter box keeps the choice
        assert f'<option value="{sales.id}" selected>' in body


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("status, expect_active, expect_inactive",
                         [(None, True, False), ("active", True, False), ("inactive", False, True), ("all", True, True)])
def test_status_filter(admin_client, make_user, make_department, status, expect_active, expect_inactive, hx):
    dept = make_department()
    active, inactive = make_user(department=dept), make_user(department=dept, active=False)
    params = {"department": dept.id}
    if status:
        params["status"] = status
    response = admin_client.get(USERS, query_string=params, headers=HX if hx else {})
    body = assert_page(response, hx)
    ids = user_row_ids(body)
    assert (active.id in ids) is expect_active
    assert (inactive.id in ids) is expect_inactive


def test_filters_combine(admin_client, make_user, make_department):
    dept, elsewhere = make_department(), make_department()
    hit = make_user("liming", department=dept, display_name="李明")
    make_user("liming2", department=elsewhere, display_name="李明二")
    make_user("liming3", department=dept, active=False, display_name="李明三")
    body = assert_partial(admin_client.get(USERS, query_string={"q": "李明", "department": dept.id, "status": "active"},
                                           headers=HX))
    assert user_row_ids(body) == [hit.id]


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_pagination(admin_client, make_department, hx):
    dept = make_department()
    for n in range(57):
        db.session.add(User(username=f"page{n:02d}", display_name=f"分页{n}", email=f"p{n}@example.cn", department=dept))
    db.session.flush()
    headers = HX if hx else {}
    check = assert_partial if hx else assert_full_page
    first = check(admin_client.get(USERS, query_string={"q": "page", "department": dept.id}, headers=headers))
    assert len(user_row_ids(first)) == 50
    assert 'class="pagination' in first
    assert re.search(r'href="/admin/org/users\?[^"]*page=2', first)
    link = re.search(r'href="(/admin/org/users\?[^"]*page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "q=page" in link and f"department={dept.id}" in link and "status=active" in link
    second = check(admin_client.get(link, headers=headers))
    second_ids = user_row_ids(second)
    assert len(second_ids) == 7 and not set(second_ids) & set(user_row_ids(first))
    names = [db.session.get(User, i).username for i in user_row_ids(first) + second_ids]
    assert names == sorted(names) == [f"page{n:02d}" for n in range(57)]  # ordered by username, none lost
    beyond = check(admin_client.get(USERS, query_string={"q": "page", "page": 9}, headers=headers))
    assert user_row_ids(beyond) == []


def test_department_filter_lists_the_tree_and_marks_deactivated(admin_client, make_department):
    top = make_department("集团总部")
    make_department("下属分部", parent=top, active=False)
    body = assert_full_page(admin_client.get(USERS))
    assert "集团总部" in body
    options = re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", body)
    child = next(o for o in options if "下属分部" in o)
    assert child.startswith("\u3000")  # indented under its parent
    assert child != "\u3000下属分部"  # and marked as deactivated


# == create ========================================================================================
def test_new_user_form_page_and_partial(admin_client):
    page = assert_full_page(admin_client.get(f"{USERS}/new"))
    assert 'name="username"' in page
    partial = assert_partial(admin_client.get(f"{USERS}/new", headers=HX))
    assert partial.lstrip().startswith("<form") and 'name="username"' in partial


def test_create_user_shows_temporary_password_once_and_forces_a_change(app, admin_client, admin, make_department, login):
    dept = make_department("质检部")
    position = Position(department=dept, name="检验员")
    db.session.add(position)
    db.session.flush()
    before = user_count()
    response = admin_client.post(f"{USERS}/new", data=user_form(department_id=str(dept.id), position_id=str(position.id),
                                                                roles=[EMPLOYEE, QUALITY_MANAGER]))
    assert response.status_code == 303
    assert response.headers["Location"] == f"{USERS}?q=wangwu"
    assert user_count() == before + 1

    user = user_by_name("wangwu")
    assert (user.display_name, user.email, user.department_id, user.position_id) == ("王五", "wangwu@example.cn",
                                                                                    dept.id, position.id)
    assert user.roles == {EMPLOYEE, QUALITY_MANAGER}
    assert user.must_change_password is True and user.active is True

    page = assert_full_page(admin_client.get(response.headers["Location"]))
    messages = flashes(page)
    assert len(messages) == 1 and messages[0][0] == "success"
    passwords = TEMP_PASSWORD_RE.findall(messages[0][1])
    assert len(passwords) == 1, messages
    temp = passwords[0]
    assert "王五" in messages[0][1]
    # shown once: the next page has no flash any more
    assert flashes(text(admin_client.get(USERS))) == []

    [event] = audit("user.create", user)
    assert event.actor_id == admin.id
    assert event.summary["after"]["username"] == "wangwu"
    assert event.summary["after"]["roles"] == [EMPLOYEE, QUALITY_MANAGER]
    assert temp not in str(event.summary)  # the password is never written to the trail

    newcomer = app.test_client()
    login(newcomer, user, temp)
    forced = newcomer.get("/")
    assert forced.status_code in (302, 303) and forced.headers["Location"] == "/account/password"
    assert newcomer.get("/account/password").status_code == 200


def test_create_user_via_htmx_redirects_the_whole_page(admin_client):
    response = admin_client.post(f"{USERS}/new", data=user_form(), headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"{USERS}?q=wangwu"
    assert user_by_name("wangwu") is not None
    assert TEMP_PASSWORD_RE.search(flashes(text(admin_client.get(f"{USERS}?q=wangwu")))[0][1])


def test_username_is_normalised(admin_client):
    response = admin_client.post(f"{USERS}/new", data=user_form(username="  WangWu  ", email=" WangWu@Example.CN "))
    assert response.status_code == 303
    user = user_by_name("wangwu")
    assert user is not None and user.email == "WangWu@example.cn"


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"username": ""}, "username"),
        ({"username": "a"}, "username"),  # too short
        ({"username": "张三"}, "username"),  # not ASCII
        ({"username": "bad name"}, "username"),
        ({"display_name": "  "}, "display_name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "张三@"}, "email"),
        ({"email": ""}, "email"),
        ({"roles": ["superuser"]}, "roles"),
        ({"department_id": "999999"}, "department_id"),
    ],
)
def test_create_user_validation_errors_are_422(admin_client, overrides, field, hx):
    state = db_state()
    response = admin_client.post(f"{USERS}/new", data=user_form(**overrides), headers=HX if hx else {})
    body = assert_page(response, hx, 422)
    assert field_has_error(body, field), body
    assert body.count("invalid-feedback d-block") == 1  # exactly this field's message
    assert db_state() == state


def test_create_user_errors_name_the_field(admin_client):
    response = admin_client.post(f"{USERS}/new", data=user_form(email="nope"))
    body = text(response)
    assert response.status_code == 422
    feedback = re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', body)
    assert len(feedback) == 1 and "nope" in plain_text(feedback[0])  # the message quotes the bad value
    assert 'value="wangwu"' in body  # what was typed is kept


def test_create_duplicate_username(admin_client, make_user):
    make_user("wangwu")
    state = db_state()
    for candidate in ("wangwu", "WANGWU", " wangwu "):
        response = admin_client.post(f"{USERS}/new", data=user_form(username=candidate))
        assert response.status_code == 422
        assert "wangwu" in plain_text(re.search(r'<div class="invalid-feedback d-block">(.*?)</div>', text(response)).group(1))
    assert db_state() == state


def test_position_must_belong_to_the_department(admin_client, make_department):
    dept, other = make_department(), make_department()
    foreign = Position(department=other, name="会计")
    db.session.add(foreign)
    db.session.flush()
    state = db_state()
    for department_id in (str(dept.id), ""):
        response = admin_client.post(f"{USERS}/new", data=user_form(department_id=department_id, position_id=str(foreign.id)))
        assert response.status_code == 422
        assert field_has_error(text(response), "position_id")
        assert not field_has_error(text(response), "department_id")
    assert db_state() == state


def test_create_user_service_with_given_password(admin, make_department):
    user, temp = services.create_user(admin, services.UserData("presetpw", "预设", "p@example.cn", make_department().id),
                                      password="Initial-pass-1")
    assert temp is None and user.must_change_password is False and user.password_hash


# == inline edit ===================================================================================
def test_edit_row_partial_and_edit_page(admin_client, make_user):
    user = make_user(display_name="钱八")
    partial = assert_partial(admin_client.get(f"{USERS}/{user.id}/edit", headers=HX))
    assert partial.lstrip().startswith(f'<tr id="user-{user.id}" class="table-warning edit-row">')
    assert 'value="钱八"' in partial and f'hx-post="{USERS}/{user.id}/edit"' in partial
    assert re.search(r'<input[^>]*checked[^>]*value="employee"|<input[^>]*value="employee"[^>]*checked', partial)
    page = assert_full_page(admin_client.get(f"{USERS}/{user.id}/edit"))
    assert 'value="钱八"' in page and "<form" in page


def test_cancel_edit_returns_the_plain_row(admin_client, make_user):
    user = make_user()
    partial = assert_partial(admin_client.get(f"{USERS}/{user.id}", headers=HX))
    assert partial.lstrip().startswith(f'<tr id="user-{user.id}">')
    assert "edit-row" not in partial
    page = assert_full_page(admin_client.get(f"{USERS}/{user.id}"))
    assert f'<tr id="user-{user.id}"' in page


def test_unknown_user_is_404(admin_client):
    assert admin_client.get(f"{USERS}/999999/edit").status_code == 404
    assert admin_client.get(f"{USERS}/999999", headers=HX).status_code == 404
    assert admin_client.post(f"{USERS}/999999/active", data={"active": "0"}).status_code == 404


def test_inline_edit_saves_and_returns_the_row(admin_client, admin, make_user, make_department):
    old_dept, new_dept = make_department(), make_department("新部门")
    position = Position(department=new_dept, name="主管")
    db.session.add(position)
    db.session.flush()
    user = make_user("editme", department=old_dept, display_name="旧名字")
    response = admin_client.post(
        f"{USERS}/{user.id}/edit", headers=HX,
        data=form_of(user, display_name="新名字", email="new@example.cn", department_id=str(new_dept.id),
                     position_id=str(position.id), roles=[EMPLOYEE, DEPT_HEAD]),
    )
    body = assert_partial(response)
    assert body.lstrip().startswith(f'<tr id="user-{user.id}"')
    assert "edit-row" not in body and "新名字" in body and "主管" in body
    db.session.refresh(user)
    assert (user.display_name, user.email, user.department_id, user.position_id) == ("新名字", "new@example.cn",
                                                                                    new_dept.id, position.id)
    assert user.roles == {EMPLOYEE, DEPT_HEAD}
    [event] = audit("user.update", user)
    assert event.actor_id == admin.id
    assert event.summary["before"]["display_name"] == "旧名字"
    assert event.summary["after"]["display_name"] == "新名字"
    assert event.summary["after"]["roles"] == [DEPT_HEAD, EMPLOYEE]
    assert "username" not in event.summary["after"]  # only the changed fields


def test_edit_without_changes_writes_no_audit_event(admin_client, make_user):
    user = make_user()
    before = audit_count()
    assert admin_client.post(f"{USERS}/{user.id}/edit", data=form_of(user), headers=HX).status_code == 200
    assert audit_count() == before


def test_edit_on_its_own_page_redirects(admin_client, make_user):
    user = make_user()
    response = admin_client.post(f"{USERS}/{user.id}/edit", data=form_of(user, display_name="整页编辑"))
    assert response.status_code == 303 and response.headers["Location"] == f"{USERS}?q={user.username}"
    db.session.refresh(user)
    assert user.display_name == "整页编辑"


@pytest.mark.parametrize(
    "overrides, field",
    [({"email": "broken@"}, "email"), ({"display_name": ""}, "display_name"), ({"username": "x"}, "username"),
     ({"username": "taken"}, "username"), ({"roles": ["nope"]}, None)],
    ids=["bad-email", "no-name", "bad-username", "duplicate-username", "unknown-role"],
)
def test_inline_edit_errors_return_the_edit_row_with_422(admin_client, make_user, overrides, field):
    make_user("taken")
    user = make_user("keepme", display_name="原名")
    state = db_state()
    response = admin_client.post(f"{USERS}/{user.id}/edit", data=form_of(user, **overrides), headers=HX)
    body = assert_partial(response, 422)
    assert body.lstrip().startswith(f'<tr id="user-{user.id}" class="table-warning edit-row">')
    assert body.count("invalid-feedback d-block") == 1
    if field:
        assert field_has_error(body, field)
    db.session.refresh(user)
    assert (user.username, user.display_name) == ("keepme", "原名")
    assert db_state() == state


def test_inline_edit_position_not_in_department(admin_client, make_user, make_department):
    dept, other = make_department(), make_department()
    foreign = Position(department=other, name="出纳")
    db.session.add(foreign)
    db.session.flush()
    user = make_user(department=dept)
    response = admin_client.post(f"{USERS}/{user.id}/edit", data=form_of(user, position_id=str(foreign.id)), headers=HX)
    body = assert_partial(response, 422)
    assert body.count("invalid-feedback d-block") == 1 and field_has_error(body, "position_id")
    db.session.refresh(user)
    assert user.position_id is None


def test_position_options_follow_the_department(admin_client, make_department):
    dept, other = make_department(), make_department()
    db.session.add_all([Position(department=dept, name="甲岗"), Position(department=dept, name="停用岗", active=False),
                        Position(department=other, name="乙岗")])
    db.session.flush()
    body = assert_partial(admin_client.get("/admin/org/positions/options", query_string={"department_id": dept.id},
                                           headers=HX))
    assert "甲岗" in body and "停用岗" not in body and "乙岗" not in body
    assert body.startswith('<option value="">')
    assert_partial(admin_client.get("/admin/org/positions/options", headers=HX))


# == last administrator ============================================================================
def test_last_admin_cannot_drop_own_admin_role(admin_client, admin):
    response = admin_client.post(f"{USERS}/{admin.id}/edit", data=form_of(admin, roles=[EMPLOYEE]), headers=HX)
    body = assert_partial(response, 422)
    # the message sits in the roles cell, right after the role checkboxes
    assert re.search(r'id="roles-3"[^<]*<label[^>]*>[^<]*</label></li></ul>\s*<div class="invalid-feedback d-block">[^<]+</div>', body)
    db.session.refresh(admin)
    assert ADMIN in admin.roles
    assert audit("user.update", admin) == []


def test_admin_role_can_be_dropped_while_another_admin_remains(admin_client, admin, make_user):
    other = make_user("admin2", roles=(ADMIN,))
    response = admin_client.post(f"{USERS}/{other.id}/edit", data=form_of(other, roles=[EMPLOYEE]), headers=HX)
    assert response.status_code == 200
    db.session.refresh(other)
    assert other.roles == {EMPLOYEE}


def test_last_admin_guards_in_the_services(admin, make_user):
    # The deactivation guard is defence in depth: an acting administrator is always an active admin
    # too, so it only bites for an actor that is not (or no longer) counted, e.g. a system actor.
    system = User(username="system", display_name="系统", email="system@example.cn", active=True)
    system.set_roles({ADMIN})
    with pytest.raises(ServiceError):
        services.set_user_active(system, admin, False)
    with pytest.raises(ServiceError):
        services.update_user(admin, admin, services.UserData(admin.username, admin.display_name, admin.email,
                                                             admin.department_id, None, (EMPLOYEE,)))
    assert admin.active and ADMIN in admin.roles
    # an inactive administrator does not count as a remaining one
    make_user("formeradmin", roles=(ADMIN,), active=False)
    with pytest.raises(ServiceError):
        services.set_user_active(system, admin, False)
    # with a second active administrator the first may go
    make_user("admin2", roles=(ADMIN,))
    services.set_user_active(system, admin, False)
    assert admin.active is False


# == deactivate / reactivate =======================================================================
def test_deactivate_and_reactivate_never_delete(admin_client, admin, make_user):
    user = make_user()
    before = user_count()
    response = admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{USERS}?q={user.username}&status=all"
    db.session.refresh(user)
    assert user.active is False and user_count() == before
    [event] = audit("user.deactivate", user)
    assert event.actor_id == admin.id
    assert ("success", ) == tuple(c for c, _m in flashes(text(admin_client.get(response.headers["Location"]))))

    response = admin_client.post(f"{USERS}/{user.id}/active", data={"active": "1"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.active is True and user_count() == before
    assert len(audit("user.activate", user)) == 1


def test_deactivate_via_htmx_returns_the_row(admin_client, make_user):
    user = make_user()
    body = assert_partial(admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, headers=HX))
    assert body.lstrip().startswith(f'<tr id="user-{user.id}" class="table-secondary">')
    assert 'name="active" value="1"' in body  # the button now reactivates
    body = assert_partial(admin_client.post(f"{USERS}/{user.id}/active", data={"active": "1"}, headers=HX))
    assert body.lstrip().startswith(f'<tr id="user-{user.id}">')


def test_deactivating_twice_writes_one_event(admin_client, make_user):
    user = make_user()
    admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, headers=HX)
    admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, headers=HX)
    assert len(audit("user.deactivate", user)) == 1


def test_cannot_deactivate_self(admin_client, admin, make_user):
    make_user("admin2", roles=(ADMIN,))  # not merely the last-admin rule
    body = assert_partial(admin_client.post(f"{USERS}/{admin.id}/active", data={"active": "0"}, headers=HX), 422)
    assert body.lstrip().startswith(f'<tr id="user-{admin.id}">')
    assert '<div class="text-danger small">' in body
    response = admin_client.post(f"{USERS}/{admin.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert [c for c, _m in flashes(text(admin_client.get(response.headers["Location"])))] == ["danger"]
    db.session.refresh(admin)
    assert admin.active is True
    assert audit("user.deactivate") == []
    assert admin_client.get(USERS).status_code == 200  # still logged in


def test_deactivation_logs_the_user_out(app, admin_client, make_user, client_for):
    user = make_user()
    victim = client_for(user)
    assert victim.get("/").status_code == 200
    assert admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, headers=HX).status_code == 200

    response = victim.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = victim.get("/", headers={**HX, "HX-Current-URL": "http://localhost/"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
    # and cannot log in again
    relogin = app.test_client().post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD})
    assert relogin.status_code == 422

    admin_client.post(f"{USERS}/{user.id}/active", data={"active": "1"}, headers=HX)
    assert victim.get("/").status_code == 302  # the old session stays dead after reactivation
    assert client_for(user).get("/").status_code == 200  # but a fresh login works


# == password reset ================================================================================
def test_reset_password(app, admin_client, admin, make_user, client_for, login):
    user = make_user(display_name="周九")
    old_session = client_for(user)
    response = admin_client.post(f"{USERS}/{user.id}/reset-password")
    assert response.status_code == 303 and response.headers["Location"] == f"{USERS}?q={user.username}"
    [(category, message)] = flashes(text(admin_client.get(response.headers["Location"])))
    assert category == "success" and "周九" in message
    [temp] = TEMP_PASSWORD_RE.findall(message)

    db.session.refresh(user)
    assert user.must_change_password is True
    [event] = audit("user.password_reset", user)
    assert event.actor_id == admin.id and temp not in str(event.summary)
    assert old_session.get("/").status_code == 302  # sessions with the old password end

    assert app.test_client().post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD}).status_code == 422
    fresh = app.test_client()
    login(fresh, user, temp)
    assert fresh.get("/").headers["Location"] == "/account/password"


def test_reset_password_via_htmx_shows_it_in_the_row(app, admin_client, make_user, login):
    user = make_user()
    body = assert_partial(admin_client.post(f"{USERS}/{user.id}/reset-password", headers=HX))
    assert body.lstrip().startswith(f'<tr id="user-{user.id}"')
    notice = re.search(r'<div class="[^"]*temp-password">(.*?)</div>', body, re.S).group(1)
    [temp] = TEMP_PASSWORD_RE.findall(plain_text(notice))
    login(app.test_client(), user, temp)
    # a second reset issues a different password and invalidates the first
    body = assert_partial(admin_client.post(f"{USERS}/{user.id}/reset-password", headers=HX))
    [second] = TEMP_PASSWORD_RE.findall(plain_text(re.search(r'temp-password">(.*?)</div>', body, re.S).group(1)))
    assert second != temp
    assert app.test_client().post("/login", data={"username": user.username, "password": temp}).status_code == 422
    assert len(audit("user.password_reset", user)) == 2


def test_temporary_passwords_are_random_and_well_formed():
    generated = {services.temporary_password() for _ in range(50)}
    assert len(generated) == 50
    assert all(TEMP_PASSWORD_RE.fullmatch(p) for p in generated)


# == audit trail ===================================================================================
def test_every_change_is_on_an_intact_audit_chain(admin_client, make_user):
    user = make_user()
    admin_client.post(f"{USERS}/new", data=user_form())
    admin_client.post(f"{USERS}/{user.id}/edit", data=form_of(user, display_name="改名"), headers=HX)
    admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, headers=HX)
    admin_client.post(f"{USERS}/{user.id}/active", data={"active": "1"}, headers=HX)
    admin_client.post(f"{USERS}/{user.id}/reset-password", headers=HX)
    actions = [e.action for e in audit(object_type="user") if e.action.startswith("user.")]
    assert actions == ["user.create", "user.update", "user.deactivate", "user.activate", "user.password_reset"]
    report = verify_chain()
    assert report.intact, report.reason


# == authorization =================================================================================
def _org_targets(app, admin, make_user, make_department) -> tuple[dict, dict]:
    """Real objects for every URL parameter, so a missing check would answer 200, not 404."""
    dept = make_department()
    target = make_user(department=dept, display_name="受保护用户")
    position = Position(department=dept, name="受保护岗位")
    db.session.add(position)
    db.session.flush()
    pending = PendingImport(kind="roster", filename="r.csv", content=b"x", sha256="0" * 64, uploaded_by_id=admin.id)
    db.session.add(pending)
    db.session.flush()
    ids = {"user_id": target.id, "department_id": dept.id, "position_id": position.id, "import_id": pending.id}
    objects = {"user": target, "department": dept, "position": position, "import": pending}
    return ids, objects


def _org_requests(app, ids) -> list[tuple[str, str]]:
    requests = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("org."):
            continue
        url = rule.build({k: v for k, v in ids.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            requests.append((method, url))
    return requests


POST_DATA = {"active": "0", "name": "越权", "username": "intruder", "display_name": "越权", "email": "i@example.cn",
             "code": "HACK", "roles": [ADMIN]}


def test_every_org_endpoint_is_covered(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("org.")}
    assert {"org.users", "org.user_new", "org.user_edit", "org.user_row", "org.user_set_active",
            "org.user_reset_password", "org.position_options", "org.departments", "org.department_edit",
            "org.department_set_active", "org.department_detail", "org.position_update", "org.roster_import",
            "org.roster_apply"} <= endpoints
    assert all(r.rule.startswith("/admin/org/") for r in app.url_map.iter_rules() if r.endpoint.startswith("org."))


@pytest.mark.parametrize("role", list(NON_ADMIN_ROLES))
def test_non_admins_get_403_on_every_org_endpoint(app, admin, make_user, make_department, client_for, role):
    ids, objects = _org_targets(app, admin, make_user, make_department)
    user = make_user(roles=NON_ADMIN_ROLES[role])
    intruder = client_for(user)
    state = db_state()
    requests = _org_requests(app, ids)
    assert len(requests) >= 18
    for method, url in requests:
        for headers in ({}, HX):
            if method == "GET":
                response = intruder.get(url, headers=headers)
            else:
                response = intruder.post(url, data=POST_DATA, headers=dict(headers))
            assert response.status_code == 403, (role, method, url, headers, response.status_code)
            assert 'data-status="403"' in text(response)
            assert ("<html" in text(response)) is (not headers)
    assert db_state() == state
    target = objects["user"]
    db.session.refresh(target)
    assert target.active and target.display_name == "受保护用户" and target.roles == {EMPLOYEE}
    assert objects["import"].status == "pending"
    assert intruder.get("/").status_code == 200  # a 403 is not a logout


def test_anonymous_is_sent_to_login_on_every_org_endpoint(app, client, admin, make_user, make_department):
    ids, _objects = _org_targets(app, admin, make_user, make_department)
    state = db_state()
    for method, url in _org_requests(app, ids):
        response = client.get(url) if method == "GET" else client.post(url, data=POST_DATA)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/login?next=")
        hx = {**HX, "HX-Current-URL": f"http://localhost{url}"}
        response = client.get(url, headers=hx) if method == "GET" else client.post(url, data=POST_DATA, headers=hx)
        assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
    assert db_state() == state


def test_post_without_csrf_token_is_refused(admin_client, make_user):
    user = make_user()
    response = admin_client.post(f"{USERS}/{user.id}/active", data={"active": "0"}, csrf=False)
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.active is True


@pytest.mark.parametrize("role", list(NON_ADMIN_ROLES))
def test_user_services_refuse_non_admin_actors(make_user, make_department, role):
    actor = make_user(roles=NON_ADMIN_ROLES[role])
    target = make_user()
    dept = make_department()
    state = db_state()
    data = services.UserData("svcuser", "服务", "svc@example.cn", dept.id)
    calls = [
        lambda: services.create_user(actor, data),
        lambda: services.update_user(actor, target, data),
        lambda: services.set_user_active(actor, target, False),
        lambda: services.reset_password(actor, target),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert db_state() == state
    assert target.active is True and target.username != "svcuser"


def test_user_services_refuse_missing_and_inactive_actors(admin, make_user):
    target = make_user()
    inactive_admin = make_user(roles=(ADMIN,), active=False)
    for actor in (None, inactive_admin):
        with pytest.raises(PermissionDenied):
            services.set_user_active(actor, target, False)
        with pytest.raises(PermissionDenied):
            services.reset_password(actor, target)
    assert target.active is True


def test_deactivated_admin_loses_access_at_once(admin_client, admin, make_user, client_for):
    other_admin = make_user("admin2", roles=(ADMIN,))
    second = client_for(other_admin)
    assert second.get(USERS).status_code == 200
    admin_client.post(f"{USERS}/{other_admin.id}/active", data={"active": "0"}, headers=HX)
    response = second.get(USERS)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_demoted_admin_gets_403(admin_client, make_user, client_for):
    other_admin = make_user("admin2", roles=(ADMIN,))
    second = client_for(other_admin)
    admin_client.post(f"{USERS}/{other_admin.id}/edit", data=form_of(other_admin, roles=[EMPLOYEE]), headers=HX)
    assert second.get(USERS).status_code == 403


def test_roster_service_refuses_on_behalf_of_others(make_user):
    # roster.get_pending hides other administrators' imports
    owner = make_user(roles=(ADMIN,))
    other = make_user(roles=(ADMIN,))
    pending = PendingImport(kind="roster", filename="r.csv", content=b"x", sha256="0" * 64, uploaded_by_id=owner.id)
    db.session.add(pending)
    db.session.flush()
    from portal.core.errors import NotFound

    with pytest.raises(NotFound):
        roster.get_pending(other, pending.id)
    assert roster.get_pending(owner, pending.id) is pending


def test_set_password_helper_used_by_factories_rotates_sessions(make_user):
    # guard for the assumptions above: a password change rotates the session nonce
    user = make_user()
    nonce = user.session_nonce
    set_password(user, "Another-pass-2", must_change=False)
    assert user.session_nonce != nonce
    assert db.session.scalar(sa.select(User.session_nonce).where(User.id == user.id)) == user.session_nonce
