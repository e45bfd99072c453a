"""Departments (a tree with heads) and their positions: /admin/org/departments…"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied, ServiceError
from portal.extensions import db
from portal.org import services
from portal.org.models import Department, Position, User
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE
from tests.helpers import (
    HX, assert_full_page, assert_page, assert_partial, audit, audit_count, field_has_error, flashes, text,
)
from tests.org.helpers import NON_ADMIN_ROLES, db_state

DEPTS = "/admin/org/departments"


def dept_form(**overrides) -> dict:
    data = {"code": "QA", "name": "质量管理部", "parent_id": "", "head_id": "", "sort_order": "0"}
    data.update(overrides)
    return data


def form_of(dept: Department, **overrides) -> dict:
    data = {"code": dept.code, "name": dept.name, "parent_id": str(dept.parent_id or ""),
            "head_id": str(dept.head_id or ""), "sort_order": str(dept.sort_order or 0)}
    data.update(overrides)
    return data


def by_code(code: str) -> Department | None:
    return db.session.scalar(sa.select(Department).where(Department.code == code))


@pytest.fixture
def tree(make_department):
    """集团 ⊃ 华东区 ⊃ 上海分公司, and a second top-level 华南区."""
    group = make_department("集团", code="GRP")
    east = make_department("华东区", code="EAST", parent=group)
    shanghai = make_department("上海分公司", code="SH", parent=east)
    south = make_department("华南区", code="SOUTH", parent=group)
    return group, east, shanghai, south


# == list ===========================================================================================
def test_department_page_and_partial(admin_client, tree, make_user):
    group, east, shanghai, south = tree
    make_user(department=shanghai)
    make_user(department=shanghai)
    make_user(department=shanghai, active=False)
    page = assert_full_page(admin_client.get(DEPTS))
    assert 'id="department-table"' in page and f'action="{DEPTS}"' in page  # table and the create form
    partial = assert_partial(admin_client.get(DEPTS, headers=HX))
    assert partial.lstrip().startswith('<table class="table table-sm align-middle" id="department-table">')
    # tree order with depth, active members counted (the deactivated one is not)
    rows = re.findall(r'<tr id="department-(\d+)".*?class="depth-(\d)".*?</td>\s*<td>[^<]*</td>\s*<td>(\d+)</td>', partial, re.S)
    ours = {d.id for d in tree}
    assert [(int(i), int(d)) for i, d, _n in rows if int(i) in ours] == [
        (group.id, 0), (east.id, 1), (shanghai.id, 2), (south.id, 1)]
    assert dict((int(i), int(n)) for i, _d, n in rows)[shanghai.id] == 2


def test_department_tree_orders_by_sort_order_then_code(make_department):
    b = make_department(code="B1")
    a = make_department(code="A1")
    first = make_department(code="Z9")
    first.sort_order = -1
    child = make_department(code="C1", parent=b)
    db.session.flush()
    order = [d.id for d, _depth in services.department_tree() if d.id in {a.id, b.id, first.id, child.id}]
    assert order == [first.id, a.id, b.id, child.id]
    inactive = make_department(code="OFF", active=False)
    assert inactive.id not in [d.id for d, _ in services.department_tree(include_inactive=False)]


# == create =========================================================================================
def test_create_department(admin_client, admin, tree):
    group = tree[0]
    state = db_state()
    response = admin_client.post(DEPTS, data=dept_form(code=" qa-01 ", parent_id=str(group.id), sort_order="5"))
    assert response.status_code == 303 and response.headers["Location"] == DEPTS
    dept = by_code("QA-01")  # codes are stored upper-case
    assert dept is not None and dept.name == "质量管理部" and dept.parent_id == group.id and dept.sort_order == 5
    assert dept.active is True and dept.head_id is None
    assert db_state()["departments"] == state["departments"] + 1
    [event] = audit("department.create", dept)
    assert event.actor_id == admin.id and event.summary["after"]["code"] == "QA-01"
    page = text(admin_client.get(DEPTS))
    assert [c for c, _m in flashes(page)] == ["success"] and "质量管理部" in flashes(page)[0][1]


def test_create_department_via_htmx(admin_client):
    response = admin_client.post(DEPTS, data=dept_form(), headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == DEPTS
    assert by_code("QA") is not None


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"code": ""}, "code"),
        ({"code": "A B"}, "code"),
        ({"code": "部门"}, "code"),
        ({"code": "X" * 33}, "code"),
        ({"name": ""}, "name"),
        ({"name": "名" * 101}, "name"),
        ({"code": "grp"}, "code"),  # taken, whatever the case
        ({"name": "集团"}, "name"),  # taken
        ({"parent_id": "999999"}, "parent_id"),
        ({"head_id": "999999"}, "head_id"),
        ({"sort_order": "-1"}, "sort_order"),
        ({"sort_order": "abc"}, "sort_order"),
    ],
)
def test_create_department_validation(admin_client, tree, overrides, field, hx):
    state = db_state()
    response = admin_client.post(DEPTS, data=dept_form(**overrides), headers=HX if hx else {})
    body = assert_page(response, hx, 422)
    if hx:
        assert body.lstrip().startswith("<form")
    assert field_has_error(body, field), body
    assert db_state() == state


def test_duplicate_name_is_case_insensitive(admin_client, make_department):
    make_department("Sales Dept", code="SALES")
    state = db_state()
    response = admin_client.post(DEPTS, data=dept_form(code="OTHER", name="sales dept"))
    assert response.status_code == 422 and field_has_error(text(response), "name")
    assert db_state() == state


def test_failed_create_keeps_the_member_counts(admin_client, make_department, make_user):
    dept = make_department("人事部", code="HR")
    make_user(department=dept)
    response = admin_client.post(DEPTS, data=dept_form(code="HR"))
    body = assert_full_page(response, 422)
    cells = re.search(rf'<tr id="department-{dept.id}".*?</tr>', body, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", cells) == ["1"]


# == head ===========================================================================================
def test_head_assignment_grants_dept_head_role(admin_client, admin, make_user):
    head = make_user("lihead", display_name="李主任")
    assert head.roles == {EMPLOYEE}
    response = admin_client.post(DEPTS, data=dept_form(head_id=str(head.id)))
    assert response.status_code == 303
    dept = by_code("QA")
    db.session.refresh(head)
    assert dept.head_id == head.id and head.roles == {EMPLOYEE, DEPT_HEAD}
    [grant] = audit("user.update", head)
    assert grant.actor_id == admin.id
    assert grant.summary == {"before": {"roles": [EMPLOYEE]}, "after": {"roles": [DEPT_HEAD, EMPLOYEE]}}
    assert "李主任" in text(admin_client.get(DEPTS, headers=HX))


def test_head_assigned_on_edit_and_not_granted_twice(admin_client, make_user, make_department):
    dept, other = make_department(), make_department()
    head = make_user()
    response = admin_client.post(f"{DEPTS}/{dept.id}/edit", data=form_of(dept, head_id=str(head.id)))
    assert response.status_code == 303
    db.session.refresh(head)
    assert DEPT_HEAD in head.roles
    admin_client.post(f"{DEPTS}/{other.id}/edit", data=form_of(other, head_id=str(head.id)))
    db.session.refresh(other)
    assert other.head_id == head.id
    assert len(audit("user.update", head)) == 1  # already a head: no second grant


def test_head_must_be_an_active_user(admin_client, make_user, make_department):
    dept = make_department()
    gone = make_user(active=False)
    response = admin_client.post(f"{DEPTS}/{dept.id}/edit", data=form_of(dept, head_id=str(gone.id)), headers=HX)
    body = assert_partial(response, 422)
    assert field_has_error(body, "head_id")
    db.session.refresh(dept)
    db.session.refresh(gone)
    assert dept.head_id is None and DEPT_HEAD not in gone.roles
    # and the head picker offers active users only
    page = text(admin_client.get(f"{DEPTS}/{dept.id}/edit"))
    head_select = re.search(r'<select[^>]*id="head_id".*?</select>', page, re.S).group(0)
    assert f'value="{gone.id}"' not in head_select


# == edit and the tree ==============================================================================
def test_edit_page_and_partial(admin_client, tree):
    east = tree[1]
    page = assert_full_page(admin_client.get(f"{DEPTS}/{east.id}/edit"))
    assert 'value="华东区"' in page and 'value="EAST"' in page
    partial = assert_partial(admin_client.get(f"{DEPTS}/{east.id}/edit", headers=HX))
    assert partial.lstrip().startswith(f'<form method="post" action="{DEPTS}/{east.id}/edit"')
    assert f'<option selected value="{tree[0].id}">' in partial or f'<option value="{tree[0].id}" selected' in partial
    assert admin_client.get(f"{DEPTS}/999999/edit").status_code == 404


def test_edit_department(admin_client, admin, tree):
    group, east, shanghai, south = tree
    response = admin_client.post(f"{DEPTS}/{shanghai.id}/edit", data=form_of(shanghai, name="上海公司", parent_id=str(south.id)),
                                 headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == DEPTS
    db.session.refresh(shanghai)
    assert shanghai.name == "上海公司" and shanghai.parent_id == south.id
    [event] = audit("department.update", shanghai)
    assert event.actor_id == admin.id
    assert event.summary["before"] == {"name": "上海分公司", "parent_id": east.id}
    assert event.summary["after"] == {"name": "上海公司", "parent_id": south.id}
    # to the top level
    admin_client.post(f"{DEPTS}/{shanghai.id}/edit", data=form_of(shanghai, parent_id=""))
    db.session.refresh(shanghai)
    assert shanghai.parent_id is None


def test_edit_keeping_own_code_and_name_is_no_clash_and_no_event(admin_client, tree):
    east = tree[1]
    before = audit_count()
    response = admin_client.post(f"{DEPTS}/{east.id}/edit", data=form_of(east, code="east"))
    assert response.status_code == 303
    assert audit_count() == before


@pytest.mark.parametrize("new_parent", ["self", "child", "grandchild"])
def test_cycle_prevention(admin_client, tree, new_parent):
    group, east, shanghai, _south = tree
    target = {"self": group, "child": east, "grandchild": shanghai}[new_parent]
    state = db_state()
    response = admin_client.post(f"{DEPTS}/{group.id}/edit", data=form_of(group, parent_id=str(target.id)), headers=HX)
    body = assert_partial(response, 422)
    assert field_has_error(body, "parent_id")
    db.session.refresh(group)
    assert group.parent_id is None
    assert db_state() == state
    # the tree is still walkable
    assert {d.id for d, _ in services.department_tree()} >= {d.id for d in tree}


def test_cycle_prevention_below_the_top(admin_client, tree):
    _group, east, shanghai, south = tree
    response = admin_client.post(f"{DEPTS}/{east.id}/edit", data=form_of(east, parent_id=str(shanghai.id)))
    assert response.status_code == 422 and field_has_error(text(response), "parent_id")
    # moving under a sibling is fine
    response = admin_client.post(f"{DEPTS}/{east.id}/edit", data=form_of(east, parent_id=str(south.id)))
    assert response.status_code == 303
    db.session.refresh(east)
    assert east.parent_id == south.id


def test_edit_to_a_taken_code_or_name(admin_client, tree):
    _group, east, _shanghai, south = tree
    for overrides, field in (({"code": "south"}, "code"), ({"name": "华南区"}, "name")):
        response = admin_client.post(f"{DEPTS}/{east.id}/edit", data=form_of(east, **overrides))
        assert response.status_code == 422 and field_has_error(text(response), field)
    db.session.refresh(east)
    assert (east.code, east.name) == ("EAST", "华东区")


# == deactivate =====================================================================================
def test_deactivate_refused_while_members_are_active(admin_client, make_department, make_user):
    dept = make_department()
    make_user(department=dept)
    make_user(department=dept, active=False)
    response = admin_client.post(f"{DEPTS}/{dept.id}/active", data={"active": "0"})
    assert response.status_code == 303 and response.headers["Location"] == DEPTS
    [(category, message)] = flashes(text(admin_client.get(DEPTS)))
    assert category == "danger" and "1" in message and "0" in message  # 1 active user, 0 sub-departments
    db.session.refresh(dept)
    assert dept.active is True
    assert audit("department.deactivate") == []


def test_deactivate_refused_while_sub_departments_are_active(admin_client, tree):
    group, east, shanghai, _south = tree
    response = admin_client.post(f"{DEPTS}/{east.id}/active", data={"active": "0"}, headers=HX)
    assert response.status_code == 204  # htmx: the whole page reloads to show the message
    db.session.refresh(east)
    assert east.active is True
    assert [c for c, _m in flashes(text(admin_client.get(DEPTS)))] == ["danger"]
    # a deactivated sub-department no longer blocks
    admin_client.post(f"{DEPTS}/{shanghai.id}/active", data={"active": "0"})
    admin_client.post(f"{DEPTS}/{east.id}/active", data={"active": "0"})
    db.session.refresh(east)
    db.session.refresh(shanghai)
    assert shanghai.active is False and east.active is False
    assert [e.object_id for e in audit("department.deactivate")] == [str(shanghai.id), str(east.id)]


def test_deactivate_and_reactivate(admin_client, admin, make_department, make_user):
    dept = make_department()
    make_user(department=dept, active=False)  # only deactivated members: allowed
    assert admin_client.post(f"{DEPTS}/{dept.id}/active", data={"active": "0"}).status_code == 303
    db.session.refresh(dept)
    assert dept.active is False
    [event] = audit("department.deactivate", dept)
    assert event.actor_id == admin.id
    page = text(admin_client.get(DEPTS))
    assert re.search(rf'<tr id="department-{dept.id}" class="table-secondary">', page)
    assert admin_client.post(f"{DEPTS}/{dept.id}/active", data={"active": "1"}).status_code == 303
    db.session.refresh(dept)
    assert dept.active is True and len(audit("department.activate", dept)) == 1
    # the same state again is a no-op
    admin_client.post(f"{DEPTS}/{dept.id}/active", data={"active": "1"})
    assert len(audit("department.activate", dept)) == 1


def test_deactivate_unknown_department_is_404(admin_client):
    assert admin_client.post(f"{DEPTS}/999999/active", data={"active": "0"}).status_code == 404


# == positions ======================================================================================
def test_department_detail_page_and_partial(admin_client, make_department, make_user):
    dept = make_department("客服中心")
    member = make_user(department=dept, display_name="在职成员")
    former = make_user(department=dept, display_name="离职成员", active=False)
    db.session.add(Position(department=dept, name="坐席"))
    db.session.flush()
    page = assert_full_page(admin_client.get(f"{DEPTS}/{dept.id}"))
    assert "客服中心" in page and "坐席" in page and "在职成员" in page and "离职成员" in page
    assert page.index(member.username) < page.index(former.username)  # active members first
    partial = assert_partial(admin_client.get(f"{DEPTS}/{dept.id}", headers=HX))
    assert partial.lstrip().startswith('<div id="positions">') and "坐席" in partial
    assert admin_client.get(f"{DEPTS}/999999").status_code == 404


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_add_position(admin_client, admin, make_department, hx):
    dept = make_department()
    response = admin_client.post(f"{DEPTS}/{dept.id}", data={"name": "  质检员 "}, headers=HX if hx else {})
    body = assert_page(response, hx)
    position = db.session.scalar(sa.select(Position).where(Position.department_id == dept.id))
    assert position.name == "质检员" and position.active is True
    assert "质检员" in body and 'value=""' in re.search(r'<input[^>]*id="name"[^>]*>', body).group(0)  # form emptied
    [event] = audit("position.create", position)
    assert event.actor_id == admin.id and event.summary["after"] == {"name": "质检员", "department_id": dept.id}


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("name", ["质检员", "", "   ", "岗" * 101])
def test_add_position_validation(admin_client, make_department, name, hx):
    dept = make_department()
    db.session.add(Position(department=dept, name="质检员"))
    db.session.flush()
    state = db_state()
    response = admin_client.post(f"{DEPTS}/{dept.id}", data={"name": name}, headers=HX if hx else {})
    body = assert_page(response, hx, 422)
    assert field_has_error(body, "name")
    assert db_state() == state


def test_same_position_name_in_another_department(admin_client, make_department):
    dept, other = make_department(), make_department()
    db.session.add(Position(department=dept, name="经理"))
    db.session.flush()
    assert admin_client.post(f"{DEPTS}/{other.id}", data={"name": "经理"}, headers=HX).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Position).where(Position.name == "经理")) == 2


def test_rename_position(admin_client, admin, make_department):
    dept = make_department()
    position = Position(department=dept, name="文员")
    db.session.add(position)
    db.session.flush()
    response = admin_client.post(f"/admin/org/positions/{position.id}", data={"name": "行政文员"})
    assert response.status_code == 303 and response.headers["Location"] == f"{DEPTS}/{dept.id}"
    db.session.refresh(position)
    assert position.name == "行政文员"
    [event] = audit("position.update", position)
    assert event.summary == {"before": {"name": "文员"}, "after": {"name": "行政文员"}}
    # the same name again: no event
    admin_client.post(f"/admin/org/positions/{position.id}", data={"name": "行政文员"})
    assert len(audit("position.update", position)) == 1


@pytest.mark.parametrize("name", ["会计", "", "岗" * 101])
def test_rename_position_refused(admin_client, make_department, name):
    dept = make_department()
    db.session.add(Position(department=dept, name="会计"))
    position = Position(department=dept, name="出纳")
    db.session.add(position)
    db.session.flush()
    state = db_state()
    response = admin_client.post(f"/admin/org/positions/{position.id}", data={"name": name})
    assert response.status_code == 303
    [(category, _message)] = flashes(text(admin_client.get(response.headers["Location"])))
    assert category == "danger"
    db.session.refresh(position)
    assert position.name == "出纳"
    assert db_state() == state


def test_deactivate_and_reactivate_position(admin_client, make_department):
    dept = make_department()
    position = Position(department=dept, name="司机")
    db.session.add(position)
    db.session.flush()
    response = admin_client.post(f"/admin/org/positions/{position.id}", data={"active": "0"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{DEPTS}/{dept.id}"
    db.session.refresh(position)
    assert position.active is False and position.name == "司机"
    assert len(audit("position.deactivate", position)) == 1
    # no longer offered for new assignments
    options = text(admin_client.get("/admin/org/positions/options", query_string={"department_id": dept.id}, headers=HX))
    assert "司机" not in options
    admin_client.post(f"/admin/org/positions/{position.id}", data={"active": "1"})
    db.session.refresh(position)
    assert position.active is True and len(audit("position.activate", position)) == 1


def test_unknown_position_is_404(admin_client):
    assert admin_client.post("/admin/org/positions/999999", data={"name": "x"}).status_code == 404


# == services refuse non-administrators ============================================================
@pytest.mark.parametrize("role", list(NON_ADMIN_ROLES))
def test_department_services_refuse_non_admin_actors(make_user, make_department, role):
    actor = make_user(roles=NON_ADMIN_ROLES[role])
    dept = make_department()
    position = Position(department=dept, name="岗位")
    db.session.add(position)
    db.session.flush()
    state = db_state()
    calls = [
        lambda: services.create_department(actor, services.DepartmentData("NEW", "新部门")),
        lambda: services.update_department(actor, dept, services.DepartmentData("NEW", "新部门")),
        lambda: services.update_department(actor, dept, services.DepartmentData(dept.code, dept.name, head_id=actor.id)),
        lambda: services.set_department_active(actor, dept, False),
        lambda: services.create_position(actor, dept, "新岗位"),
        lambda: services.rename_position(actor, position, "改名"),
        lambda: services.set_position_active(actor, position, False),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert db_state() == state
    assert dept.active and dept.head_id is None and position.name == "岗位" and position.active
    assert DEPT_HEAD not in actor.roles or DEPT_HEAD in NON_ADMIN_ROLES[role]


def test_department_services_as_admin(admin, make_department, make_user):
    """The rules hold for callers other than the views too."""
    parent = services.create_department(admin, services.DepartmentData("P1", "父部门"))
    child = services.create_department(admin, services.DepartmentData("C1", "子部门", parent_id=parent.id))
    with pytest.raises(ServiceError) as exc:
        services.update_department(admin, parent, services.DepartmentData("P1", "父部门", parent_id=child.id))
    assert [f for f, _m in exc.value.errors] == ["parent_id"]
    with pytest.raises(ServiceError):
        services.create_department(admin, services.DepartmentData("p1", "另一个"))
    with pytest.raises(ServiceError):
        services.set_department_active(admin, parent, False)
    position = services.create_position(admin, child, "岗位甲")
    with pytest.raises(ServiceError):
        services.create_position(admin, child, "岗位甲")
    with pytest.raises(ServiceError):
        services.rename_position(admin, services.create_position(admin, child, "岗位乙"), "岗位甲")
    assert position.name == "岗位甲"
    head = make_user()
    services.update_department(admin, child, services.DepartmentData("C1", "子部门", parent_id=parent.id, head_id=head.id))
    assert DEPT_HEAD in head.roles and ADMIN not in head.roles
    assert db.session.get(User, head.id).roles == {EMPLOYEE, DEPT_HEAD}
