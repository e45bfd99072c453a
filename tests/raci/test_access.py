"""Who may do what with the matrix and the processes.

* employees: view the grid, 我的职责 and the export; edit nothing (403 on the editor and on POST), import nothing;
* department heads: only their own department's column, only R/C/I/empty, never an A cell nor setting A —
  and nothing at all when PORTAL_RACI_HEADS_EDIT_OWN_COLUMN is off;
* quality managers and administrators: every cell, transfers, import; the process admin pages.
Services check again: calling them with the wrong actor raises PermissionDenied.
"""
from __future__ import annotations

import io

import pytest

from portal.core.errors import PermissionDenied
from portal.extensions import db
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.processes import services as process_services
from portal.raci import excel, services
from tests.helpers import HX, cell_role, text
from tests.raci.helpers import MATRIX, cells, editable_cells, readonly_cells, shown_role, state

PROCESSES = "/quality/processes"


def _all_cells(org) -> set[tuple[int, int]]:
    return {(p.id, d.id) for p in org.procs.values() for d in org.depts.values()}


def _exported_workbook(client) -> bytes:
    response = client.get(f"{MATRIX}/export.xlsx")
    assert response.status_code == 200 and response.data[:4] == b"PK\x03\x04"
    return response.data


# == employees ========================================================================================
def test_employee_views_and_exports_but_edits_nothing(client_for, matrix_org, make_user):
    org = matrix_org
    for employee in (org.employee, make_user("plain_emp", roles=(EMPLOYEE,), department=org.depts["YY"])):
        client = client_for(employee)
        grid = client.get(f"{MATRIX}/")
        body = text(grid)
        assert grid.status_code == 200
        assert editable_cells(body) == set() and readonly_cells(body) == _all_cells(org)
        assert f"{MATRIX}/import" not in body  # no import button
        assert client.get(f"{MATRIX}/", headers=HX).status_code == 200
        assert client.get(f"{MATRIX}/mine").status_code == 200
        _exported_workbook(client)

        snapshot, before = state(), cells()
        for p, d in sorted(_all_cells(org)):
            assert client.get(f"{MATRIX}/cell/{p}/{d}/edit", headers=HX).status_code == 403
        for p, d in [(org.procs["T-01"].id, org.depts["KF"].id), (org.procs["T-03"].id, org.depts["KF"].id),
                     (org.procs["T-02"].id, org.depts["ZH"].id)]:
            for role in ("R", "A", "C", "I", ""):
                response = client.post(f"{MATRIX}/cell/{p}/{d}", data={"role": role, "transfer": "1"}, headers=HX)
                assert response.status_code == 403, (p, d, role)
        assert client.get(f"{MATRIX}/import").status_code == 403
        response = client.post(f"{MATRIX}/import", data={"file": (io.BytesIO(b"PK\x03\x04"), "m.xlsx")},
                               content_type="multipart/form-data")
        assert response.status_code == 403
        assert state() == snapshot and cells() == before


def test_anonymous_is_sent_to_login(client, matrix_org):
    p, d = matrix_org.procs["T-01"].id, matrix_org.depts["KF"].id
    for url in (f"{MATRIX}/", f"{MATRIX}/export.xlsx", f"{MATRIX}/cell/{p}/{d}/edit", f"{MATRIX}/mine"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    assert client.post(f"{MATRIX}/cell/{p}/{d}", data={"role": "R"}, csrf=False).status_code in (302, 303, 400)
    assert cell_role(p, d) == "I"


# == department heads =================================================================================
def test_head_edits_r_c_i_and_empty_in_their_own_column_only(client_for, matrix_org):
    org = matrix_org
    kf = org.depts["KF"]
    client = client_for(org.heads["KF"])

    body = text(client.get(f"{MATRIX}/"))
    own_non_a = {(p.id, kf.id) for code, p in org.procs.items() if org.role(code, "KF") != "A"}
    assert editable_cells(body) == own_non_a
    assert readonly_cells(body) == _all_cells(org) - own_non_a
    assert f"{MATRIX}/import" not in body

    p = org.procs["T-02"].id  # 客服部 is C
    assert client.get(f"{MATRIX}/cell/{p}/{kf.id}/edit", headers=HX).status_code == 200
    for role in ("R", "I", "", "C"):
        response = client.post(f"{MATRIX}/cell/{p}/{kf.id}", data={"role": role}, headers=HX)
        assert response.status_code == 200, text(response)[:300]
        assert cell_role(p, kf.id) == (role or None)
        assert shown_role(text(response), p, kf.id) == role
    # from empty back to a letter, on another row
    p5 = org.procs["T-05"].id
    assert client.post(f"{MATRIX}/cell/{p5}/{kf.id}", data={"role": ""}, headers=HX).status_code == 200
    assert client.post(f"{MATRIX}/cell/{p5}/{kf.id}", data={"role": "R"}, headers=HX).status_code == 200
    assert cell_role(p5, kf.id) == "R"


def test_head_cannot_touch_an_a_cell_nor_set_a(client_for, matrix_org):
    org = matrix_org
    kf = org.depts["KF"].id
    client = client_for(org.heads["KF"])
    snapshot, before = state(), cells()

    p_a = org.procs["T-03"].id  # 客服部 is A
    assert client.get(f"{MATRIX}/cell/{p_a}/{kf}/edit", headers=HX).status_code == 403
    for role in ("R", "C", "I", "", "A"):
        assert client.post(f"{MATRIX}/cell/{p_a}/{kf}", data={"role": role}, headers=HX).status_code == 403
    p = org.procs["T-02"].id  # 客服部 is C, 质量管理部 is A
    for data in ({"role": "A"}, {"role": "A", "transfer": "1"}):
        assert client.post(f"{MATRIX}/cell/{p}/{kf}", data=data, headers=HX).status_code == 403
    assert state() == snapshot and cells() == before


def test_head_gets_403_in_every_other_column(client_for, matrix_org):
    org = matrix_org
    client = client_for(org.heads["KF"])
    snapshot, before = state(), cells()
    for dept_code, dept in org.depts.items():
        if dept_code == "KF":
            continue
        for code, process in org.procs.items():
            assert client.get(f"{MATRIX}/cell/{process.id}/{dept.id}/edit", headers=HX).status_code == 403
            new = "R" if org.role(code, dept_code) != "R" else "I"
            response = client.post(f"{MATRIX}/cell/{process.id}/{dept.id}", data={"role": new}, headers=HX)
            assert response.status_code == 403, (code, dept_code)
    assert client.get(f"{MATRIX}/import").status_code == 403
    assert state() == snapshot and cells() == before


def test_head_of_two_departments_edits_both_columns(client_for, matrix_org):
    org = matrix_org
    head = org.heads["KF"]
    org.depts["YY"].head_id = head.id
    db.session.commit()
    client = client_for(head)
    p = org.procs["T-02"].id  # 运营部 is I
    assert client.post(f"{MATRIX}/cell/{p}/{org.depts['YY'].id}", data={"role": "C"}, headers=HX).status_code == 200
    assert client.post(f"{MATRIX}/cell/{p}/{org.depts['ZH'].id}", data={"role": "C"}, headers=HX).status_code == 403


def test_switch_off_heads_editing_gives_403_everywhere(client_for, matrix_org, app, monkeypatch):
    org = matrix_org
    monkeypatch.setitem(app.config, "PORTAL_RACI_HEADS_EDIT_OWN_COLUMN", False)
    client = client_for(org.heads["KF"])
    kf = org.depts["KF"].id
    snapshot, before = state(), cells()

    body = text(client.get(f"{MATRIX}/"))
    assert editable_cells(body) == set() and readonly_cells(body) == _all_cells(org)
    for code, process in org.procs.items():
        for dept in org.depts.values():
            assert client.get(f"{MATRIX}/cell/{process.id}/{dept.id}/edit", headers=HX).status_code == 403
        new = "R" if org.role(code, "KF") not in ("R", "A") else "I"
        assert client.post(f"{MATRIX}/cell/{process.id}/{kf}", data={"role": new}, headers=HX).status_code == 403
    assert state() == snapshot and cells() == before

    with pytest.raises(PermissionDenied):
        services.set_cell(org.heads["KF"], org.procs["T-02"].id, kf, "R")
    # quality managers are not affected by the switch
    assert services.set_cell(org.qm, org.procs["T-02"].id, kf, "R")
    assert services.load_matrix(org.heads["KF"]).editable_departments == set()


# == quality managers and administrators ==============================================================
@pytest.mark.parametrize("who", ["qm", "admin", "admin_and_head"])
def test_quality_manager_and_admin_edit_everything_and_import(client_for, matrix_org, make_user, who):
    org = matrix_org
    if who == "qm":
        user = org.qm
    else:
        roles = (ADMIN,) if who == "admin" else (ADMIN, DEPT_HEAD, EMPLOYEE)
        user = make_user(f"t_{who}", roles=roles, department=org.depts["YY"])
    client = client_for(user)
    body = text(client.get(f"{MATRIX}/"))
    assert editable_cells(body) == _all_cells(org)  # A cells included
    assert f"{MATRIX}/import" in body

    for process in org.procs.values():
        for dept in org.depts.values():
            assert client.get(f"{MATRIX}/cell/{process.id}/{dept.id}/edit", headers=HX).status_code == 200
    p, zh, zl = org.procs["T-01"].id, org.depts["ZH"].id, org.depts["ZL"].id
    assert client.post(f"{MATRIX}/cell/{p}/{zh}", data={"role": "A", "transfer": "1"}, headers=HX).status_code == 200
    assert cell_role(p, zh) == "A" and cell_role(p, zl) == "R"
    assert client.post(f"{MATRIX}/cell/{p}/{zl}", data={"role": "I"}, headers=HX).status_code == 200

    assert client.get(f"{MATRIX}/import").status_code == 200
    response = client.post(f"{MATRIX}/import", data={"file": (io.BytesIO(_exported_workbook(client)), "m.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and '<div class="alert alert-info">' in text(response)


# == process admin pages ==============================================================================
def test_process_admin_pages_are_for_admins_and_quality_managers(client_for, matrix_org, make_user):
    org = matrix_org
    process = org.procs["T-01"]
    urls = [f"{PROCESSES}/", f"{PROCESSES}/new", f"{PROCESSES}/{process.id}/edit"]
    form = {"code": "ZZ-1", "name": "不该创建", "clause_ids": [org.clauses["9.2"].id], "sort_order": "0"}

    head = org.heads["KF"]
    for user in (org.employee, head, make_user("head_only", roles=(DEPT_HEAD,))):
        client = client_for(user)
        snapshot = state()
        for url in urls:
            assert client.get(url).status_code == 403, (user.username, url)
        assert client.post(f"{PROCESSES}/new", data=form).status_code == 403
        assert client.post(f"{PROCESSES}/{process.id}/edit", data={**form, "code": "T-01"}).status_code == 403
        assert client.post(f"{PROCESSES}/{process.id}/active", data={"active": "0"}).status_code == 403
        db.session.refresh(process)
        assert process.active and process.name == "质量方针与目标管理" and state() == snapshot
        assert "不该创建" not in str(process_services.list_processes(active=None))
        nav = text(client.get("/"))
        assert f'href="{PROCESSES}/"' not in nav

    for user in (org.qm, make_user("proc_admin", roles=(ADMIN,))):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user.username, url)
        assert f'href="{PROCESSES}/"' in text(client.get("/"))


# == services called directly =========================================================================
def test_services_refuse_the_wrong_actor(matrix_org, make_user):
    org = matrix_org
    kf = org.depts["KF"].id
    p2 = org.procs["T-02"].id
    head = org.heads["KF"]
    outsider_head = make_user("head_nodept", roles=(DEPT_HEAD,))
    cases = [
        lambda: services.set_cell(org.employee, p2, kf, "R"),
        lambda: services.set_cell(outsider_head, p2, kf, "R"),  # a head, but not of 客服部
        lambda: services.set_cell(head, p2, org.depts["ZH"].id, "R"),  # another column
        lambda: services.set_cell(head, p2, kf, "A"),  # setting A
        lambda: services.set_cell(head, p2, kf, "A", transfer=True),
        lambda: services.set_cell(head, org.procs["T-03"].id, kf, "R"),  # an A cell
        lambda: services.set_cell(None, p2, kf, "R"),
        lambda: excel.upload(org.employee, "m.xlsx", b"PK\x03\x04"),
        lambda: excel.upload(head, "m.xlsx", b"PK\x03\x04"),
        lambda: excel.apply(org.employee, 1),
        lambda: excel.apply(head, 1),
        lambda: process_services.create_process(org.employee, process_services.ProcessData(code="X-1", name="x")),
        lambda: process_services.create_process(head, process_services.ProcessData(code="X-1", name="x")),
        lambda: process_services.update_process(head, org.procs["T-01"],
                                                process_services.ProcessData(code="T-01", name="改名")),
        lambda: process_services.set_process_active(org.employee, org.procs["T-01"], False),
        lambda: process_services.set_process_active(head, org.procs["T-01"], False),
    ]
    snapshot, before = state(), cells()
    for index, call in enumerate(cases):
        with pytest.raises(PermissionDenied):
            call()
            pytest.fail(f"case {index} was allowed")
    assert state() == snapshot and cells() == before
    assert org.procs["T-01"].active and org.procs["T-01"].name == "质量方针与目标管理"

    with pytest.raises(PermissionDenied):
        services.check_can_edit(head, org.depts["KF"], "A", None)
    services.check_can_edit(head, org.depts["KF"], "C", None)  # allowed: no exception
    for role in (QUALITY_MANAGER, ADMIN):
        manager = make_user(f"m_{role}", roles=(role,))
        services.check_can_edit(manager, org.depts["KF"], "A", "R")
