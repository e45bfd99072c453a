"""Processes (过程) and their GB/T 19001 clause references, and the matrix API the other domains use.

Processes are created and edited by quality managers and administrators, with unique codes and no cycles
in the parent chain; they are deactivated and reactivated (reactivation needs an A), never deleted.
accountable_department / departments_with / processes_for are the only way other capabilities learn who
is A, R, C or I, so they are tested against the seeded matrix directly.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.core.errors import ServiceError
from portal.extensions import db
from portal.processes import services
from portal.processes.clauses import CLAUSES, ensure_clauses, sort_key
from portal.processes.models import IsoClause, Process
from portal.processes.services import ProcessData, create_process, set_process_active, update_process
from portal.raci.services import accountable_department, departments_with, processes_for, set_cell
from portal.raci.models import RaciAssignment
from tests.helpers import MATRIX_PROCESSES as SEED_PROCESSES, audit, count, field_has_error, reloaded, text

PROCESSES = "/quality/processes"


@pytest.fixture
def qm_client(client, matrix_org, login):
    login(client, matrix_org.qm)
    return client


# == clauses ==========================================================================================
def test_clauses_are_seeded_once_in_document_order(app):
    ensure_clauses(db.session)
    assert ensure_clauses(db.session) == 0
    clauses = services.all_clauses()
    assert [c.code for c in clauses][:3] == ["4", "4.1", "4.2"]
    assert [c.code for c in clauses][-3:] == ["10.1", "10.2", "10.3"]  # '10' after '9.3', not after '1'
    assert len(clauses) == len(CLAUSES)
    assert sort_key("9.1.2") < sort_key("10") and sort_key("7.5") < sort_key("7.5.1")
    assert db.session.scalar(sa.select(IsoClause).where(IsoClause.code == "8.5.1")).label == "8.5.1 生产和服务提供的控制"


# == create and edit ==================================================================================
def test_create_with_clauses_then_edit(matrix_org):
    org = matrix_org
    clauses = [org.clauses["8.2.1"].id, org.clauses["8.5.1"].id]
    process = create_process(org.qm, ProcessData(code=" sv-09 ", name=" 网点预约服务 ", description="预约受理",
                                                 clause_ids=clauses, sort_order=70))
    assert (process.code, process.name, process.description, process.active) == ("SV-09", "网点预约服务", "预约受理", True)
    assert [c.code for c in process.clauses] == ["8.2.1", "8.5.1"]
    assert accountable_department(process) is None  # a new process starts without an A
    [event] = audit("process.create", process)
    assert event.summary["after"]["code"] == "SV-09" and event.summary["after"]["clauses"] == ["8.2.1", "8.5.1"]

    parent = org.procs["T-03"]
    update_process(org.qm, process, ProcessData(code="SV-09", name="网点预约与排队", parent_id=parent.id,
                                                clause_ids=[org.clauses["8.5.1"].id, org.clauses["9.1.2"].id]))
    process = reloaded(process)
    assert process.name == "网点预约与排队" and process.parent_id == parent.id
    assert [c.code for c in process.clauses] == ["8.5.1", "9.1.2"]
    [event] = audit("process.update", process)
    assert event.summary["before"]["clauses"] == ["8.2.1", "8.5.1"]
    assert event.summary["after"]["clauses"] == ["8.5.1", "9.1.2"]
    assert event.summary["after"]["parent_id"] == parent.id

    # saving the same data again records nothing
    update_process(org.qm, process, ProcessData(code="SV-09", name="网点预约与排队", parent_id=parent.id,
                                                clause_ids=[org.clauses["8.5.1"].id, org.clauses["9.1.2"].id]))
    assert len(audit("process.update", process)) == 1


@pytest.mark.parametrize("code", ["T-01", "t-01", " T-01 "])
def test_codes_are_unique_whatever_the_case(matrix_org, code):
    org = matrix_org
    before = count(Process)
    with pytest.raises(ServiceError) as caught:
        create_process(org.qm, ProcessData(code=code, name="重复编码"))
    assert [field for field, _m in caught.value.errors] == ["code"]
    assert "T-01" in str(caught.value)
    db.session.rollback()
    assert count(Process) == before
    # renaming another process to a taken code is refused too; keeping one's own code is fine
    with pytest.raises(ServiceError):
        update_process(org.qm, org.procs["T-02"], ProcessData(code=code, name="成文信息控制"))
    db.session.rollback()
    update_process(org.qm, org.procs["T-01"], ProcessData(code=code, name="质量方针与目标管理", clause_ids=[
        c.id for c in org.procs["T-01"].clauses]))


@pytest.mark.parametrize("data, field", [
    (dict(code="质量-1", name="中文编码"), "code"),
    (dict(code="A B", name="空格"), "code"),
    (dict(code="X" * 33, name="太长"), "code"),
    (dict(code="", name="无编码"), "code"),
    (dict(code="OK-1", name=""), "name"),
    (dict(code="OK-1", name="名" * 101), "name"),
    (dict(code="OK-1", name="描述过长", description="字" * 5001), "description"),
    (dict(code="OK-1", name="未知上级", parent_id=999999), "parent_id"),
    (dict(code="OK-1", name="未知条款", clause_ids=[999999]), "clause_ids"),
])
def test_invalid_process_data_is_refused(matrix_org, data, field):
    before = count(Process)
    with pytest.raises(ServiceError) as caught:
        create_process(matrix_org.qm, ProcessData(**data))
    assert field in [f for f, _m in caught.value.errors]
    db.session.rollback()
    assert count(Process) == before and audit("process.create") == []


def test_no_cycles_in_the_parent_chain(matrix_org):
    org = matrix_org
    top, middle, leaf = org.procs["T-01"], org.procs["T-02"], org.procs["T-03"]
    update_process(org.qm, middle, ProcessData(code=middle.code, name=middle.name, parent_id=top.id))
    update_process(org.qm, leaf, ProcessData(code=leaf.code, name=leaf.name, parent_id=middle.id))
    db.session.commit()
    for process, parent in [(top, top), (top, middle), (top, leaf), (middle, leaf)]:
        with pytest.raises(ServiceError) as caught:
            update_process(org.qm, process, ProcessData(code=process.code, name=process.name, parent_id=parent.id))
        assert [f for f, _m in caught.value.errors] == ["parent_id"]
        db.session.rollback()
    db.session.expire_all()
    assert (db.session.get(Process, top.id).parent_id, db.session.get(Process, middle.id).parent_id,
            db.session.get(Process, leaf.id).parent_id) == (None, top.id, middle.id)
    # moving a branch elsewhere is fine
    update_process(org.qm, leaf, ProcessData(code=leaf.code, name=leaf.name, parent_id=top.id))
    assert leaf.parent_id == top.id


# == deactivate / reactivate, never delete ============================================================
def test_deactivate_and_reactivate(matrix_org):
    org = matrix_org
    process = org.procs["T-04"]
    set_process_active(org.qm, process, False)
    assert not process.active and [e.actor_id for e in audit("process.deactivate", process)] == [org.qm.id]
    assert set_process_active(org.qm, process, False) is process  # again: no change, no audit row
    assert len(audit("process.deactivate", process)) == 1
    set_process_active(org.qm, process, True)
    assert process.active and len(audit("process.activate", process)) == 1
    assert db.session.get(Process, process.id) is not None


def test_reactivation_is_refused_without_an_a(matrix_org):
    org = matrix_org
    process = org.procs["T-04"]  # A: 运营部
    set_process_active(org.qm, process, False)
    # an inactive process may lose its A …
    set_cell(org.qm, process.id, org.depts["YY"].id, "R")
    assert accountable_department(process) is None
    db.session.commit()
    # … but cannot come back without one
    with pytest.raises(ServiceError) as caught:
        set_process_active(org.qm, process, True)
    assert str(caught.value)
    db.session.rollback()
    assert not db.session.get(Process, process.id).active and audit("process.activate") == []
    # a process created without an A and deactivated cannot be reactivated either
    new = create_process(org.qm, ProcessData(code="NEW-9", name="新过程"))
    set_process_active(org.qm, new, False)
    with pytest.raises(ServiceError):
        set_process_active(org.qm, new, True)
    db.session.rollback()
    # given an A, both come back
    set_cell(org.qm, process.id, org.depts["KF"].id, "A")
    set_process_active(org.qm, process, True)
    assert process.active and accountable_department(process).code == "KF"


def test_processes_are_never_deleted(app, qm_client, matrix_org):
    org = matrix_org
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("processes.")]
    assert rules and not any("DELETE" in r.methods for r in rules)
    assert not any("delete" in r.rule or "delete" in r.endpoint for r in rules)
    process = org.procs["T-05"]
    before = count(Process)
    assert qm_client.post(f"{PROCESSES}/{process.id}/delete").status_code in (404, 405)
    assert qm_client.delete(f"{PROCESSES}/{process.id}/edit").status_code == 405

    response = qm_client.post(f"{PROCESSES}/{process.id}/active", data={"active": "0"})
    assert response.status_code == 303 and response.headers["Location"] == f"{PROCESSES}/?status=all"
    assert count(Process) == before
    db.session.expire_all()
    assert not db.session.get(Process, process.id).active
    listing = text(qm_client.get(f"{PROCESSES}/", query_string={"status": "inactive"}))
    assert f'id="process-{process.id}"' in listing and "table-secondary" in listing
    assert f'id="process-{process.id}"' not in text(qm_client.get(f"{PROCESSES}/"))
    # its cells stay, so the matrix can show it again
    assert count(RaciAssignment, RaciAssignment.process_id == process.id) == len(org.depts)

    response = qm_client.post(f"{PROCESSES}/{process.id}/active", data={"active": "1"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Process, process.id).active


def test_reactivating_without_a_through_the_page_flashes_an_error(qm_client, matrix_org):
    org = matrix_org
    process = org.procs["T-04"]
    set_process_active(org.qm, process, False)
    set_cell(org.qm, process.id, org.depts["YY"].id, "I")
    db.session.commit()
    response = qm_client.post(f"{PROCESSES}/{process.id}/active", data={"active": "1"})
    assert response.status_code == 303
    page = text(qm_client.get(response.headers["Location"]))
    assert re.search(r'class="alert alert-danger', page)
    db.session.expire_all()
    assert not db.session.get(Process, process.id).active


# == the pages ========================================================================================
def test_create_through_the_page(qm_client, matrix_org):
    org = matrix_org
    page = text(qm_client.get(f"{PROCESSES}/new"))
    assert 'name="clause_ids"' in page and "8.5.1 生产和服务提供的控制" in page
    data = {"code": "sv-10", "name": "网点环境巡查", "description": "", "parent_id": "0",
            "clause_ids": [str(org.clauses["7.1.4"].id), str(org.clauses["9.1.1"].id)], "sort_order": "80"}
    response = qm_client.post(f"{PROCESSES}/new", data=data)
    assert response.status_code == 303, text(response)[:800]
    assert response.headers["Location"] == "/quality/matrix/"
    process = db.session.scalar(sa.select(Process).where(Process.code == "SV-10"))
    assert process.parent_id is None and process.sort_order == 80
    assert [c.code for c in process.clauses] == ["7.1.4", "9.1.1"]
    grid = text(qm_client.get("/quality/matrix/"))
    assert re.search(rf'<span id="badge-{process.id}" class="badge text-bg-danger">', grid)  # missing A

    # the same code again: 422 on the code field, nothing created
    again = qm_client.post(f"{PROCESSES}/new", data={**data, "code": "SV-10"})
    assert again.status_code == 422 and field_has_error(text(again), "code")
    assert count(Process, Process.code == "SV-10") == 1
    # htmx: the form partial
    partial = qm_client.post(f"{PROCESSES}/new", data={**data, "code": "SV-10"}, headers={"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in text(partial) and field_has_error(text(partial), "code")


def test_edit_through_the_page(qm_client, matrix_org):
    org = matrix_org
    process = org.procs["T-02"]
    page = text(qm_client.get(f"{PROCESSES}/{process.id}/edit"))
    assert re.search(rf'<option selected value="{org.clauses["7.5.3"].id}">|<option value="{org.clauses["7.5.3"].id}" selected>',
                     page)
    assert f'<option value="{process.id}"' not in page.split('name="parent_id"')[1].split("</select>")[0]  # not itself
    data = {"code": "T-02", "name": "成文信息控制（修订）", "parent_id": str(org.procs["T-01"].id),
            "clause_ids": [str(org.clauses["7.5"].id), str(org.clauses["7.5.3"].id)], "sort_order": "15"}
    response = qm_client.post(f"{PROCESSES}/{process.id}/edit", data=data)
    assert response.status_code == 303 and response.headers["Location"] == f"{PROCESSES}/"
    process = reloaded(process)
    assert process.name == "成文信息控制（修订）" and process.parent_id == org.procs["T-01"].id
    assert [c.code for c in process.clauses] == ["7.5", "7.5.3"]

    # a cycle through the page: T-01 under T-02 (which is now under T-01)
    top = org.procs["T-01"]
    cyc = qm_client.post(f"{PROCESSES}/{top.id}/edit", data={"code": "T-01", "name": top.name,
                                                            "parent_id": str(process.id), "sort_order": "0"})
    assert cyc.status_code == 422 and field_has_error(text(cyc), "parent_id")
    own = qm_client.post(f"{PROCESSES}/{top.id}/edit", data={"code": "T-01", "name": top.name,
                                                            "parent_id": str(top.id), "sort_order": "0"})
    assert own.status_code == 422 and field_has_error(text(own), "parent_id")
    db.session.expire_all()
    assert db.session.get(Process, top.id).parent_id is None
    assert qm_client.get(f"{PROCESSES}/999999/edit").status_code == 404


def test_index_filters_and_shows_the_accountable_department(qm_client, matrix_org):
    org = matrix_org
    body = text(qm_client.get(f"{PROCESSES}/"))
    rows = dict(re.findall(r'<tr id="process-(\d+)"[^>]*>(.*?)</tr>', body, re.S))
    assert set(rows) == {str(p.id) for p in org.procs.values()}
    assert "质量管理部" in rows[str(org.procs["T-01"].id)] and "运营部" in rows[str(org.procs["T-04"].id)]

    partial = text(qm_client.get(f"{PROCESSES}/", query_string={"clause": org.clauses["9.3"].id},
                                 headers={"HX-Request": "true"}))
    assert partial.lstrip().startswith('<div id="process-table">')
    assert re.findall(r'<tr id="process-(\d+)"', partial) == [str(org.procs["T-06"].id)]
    found = re.findall(r'<tr id="process-(\d+)"', text(qm_client.get(f"{PROCESSES}/", query_string={"q": "投诉"})))
    assert found == [str(org.procs["T-03"].id)]
    found = re.findall(r'<tr id="process-(\d+)"', text(qm_client.get(f"{PROCESSES}/", query_string={"q": "t-0"})))
    assert len(found) == len(org.procs)
    assert "<tr id=" not in text(qm_client.get(f"{PROCESSES}/", query_string={"q": "%"}))  # LIKE wildcards escaped


# == the API other domains use ========================================================================
def test_accountable_department(matrix_org):
    org = matrix_org
    for code, _name, _clauses, accountable, *_ in SEED_PROCESSES:
        process = org.procs[code]
        assert accountable_department(process).code == accountable
        assert accountable_department(process.id).code == accountable  # by id as well
    assert accountable_department(create_process(org.qm, ProcessData(code="NO-A", name="无负责部门"))) is None


def test_departments_with_each_role(matrix_org):
    org = matrix_org
    t03, t05 = org.procs["T-03"], org.procs["T-05"]
    assert [d.code for d in departments_with(t03, "A")] == ["KF"]
    assert [d.code for d in departments_with(t03, "R")] == ["YY"]  # KF is A there, not R
    assert [d.code for d in departments_with(t03, "C")] == ["ZL"]
    assert [d.code for d in departments_with(t03.id, "I")] == ["ZH"]
    assert [d.code for d in departments_with(t05, "C")] == ["ZH", "KF", "YY"]  # department order
    org.depts["ZH"].sort_order = 99
    db.session.flush()
    assert [d.code for d in departments_with(t05, "C")] == ["KF", "YY", "ZH"]
    with pytest.raises(ValueError):
        departments_with(t03, "X")
    set_cell(org.qm, t03.id, org.depts["ZH"].id, "R")
    assert [d.code for d in departments_with(t03, "R")] == ["YY", "ZH"]  # ZH now sorts last (99)
    assert [d.code for d in departments_with(t03, "I")] == []


def test_processes_for_a_department_excludes_inactive_processes(matrix_org):
    org = matrix_org
    codes = lambda grouped: {role: [p.code for p in ps] for role, ps in grouped.items()}  # noqa: E731
    assert codes(processes_for(org.depts["ZL"])) == {"R": ["T-06"], "A": ["T-01", "T-02", "T-05"], "C": ["T-03"],
                                                     "I": ["T-04"]}
    assert codes(processes_for(org.depts["KF"].id)) == {"R": [], "A": ["T-03"], "C": ["T-02", "T-04", "T-05", "T-06"],
                                                        "I": ["T-01"]}
    set_process_active(org.qm, org.procs["T-02"], False)
    set_process_active(org.qm, org.procs["T-06"], False)
    assert codes(processes_for(org.depts["ZL"])) == {"R": [], "A": ["T-01", "T-05"], "C": ["T-03"], "I": ["T-04"]}
    assert codes(processes_for(org.depts["KF"])) == {"R": [], "A": ["T-03"], "C": ["T-04", "T-05"], "I": ["T-01"]}
    # sorted by the processes' order
    org.procs["T-05"].sort_order = -1
    db.session.flush()
    assert codes(processes_for(org.depts["ZL"]))["A"] == ["T-05", "T-01"]
    # a department with no cells
    from portal.org.models import Department

    empty = Department(code="EMPTY", name="空部门")
    db.session.add(empty)
    db.session.flush()
    assert processes_for(empty) == {"R": [], "A": [], "C": [], "I": []}
