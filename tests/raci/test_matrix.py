"""The responsibility matrix (质量职能分配表): the one-A rule at every layer, and the grid's views.

One A per process is enforced three times: by the service (AccountableTaken unless the A is transferred;
an active process never loses its only A), by the database (a partial unique index, on SQLite and on
PostgreSQL alike), and under real concurrency (two connections assigning an A at the same moment on
PostgreSQL: one wins, the other gets Conflict).

Messages are gettext msgids whose Chinese translations may still be missing, so the assertions check
structure and the Chinese names the messages carry, not the surrounding wording.
"""
from __future__ import annotations

import io
import os
import re
import threading
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.exc import IntegrityError

from portal.audit.services import verify_chain
from portal.core.errors import Conflict, ServiceError
from portal.extensions import db
from portal.org.models import Department, User
from portal.core.roles import QUALITY_MANAGER
from portal.processes.models import Process
from portal.raci import services
from portal.raci.models import RaciAssignment, RaciRevision
from portal.raci.services import AccountableTaken, CellChange, accountable_department, set_cell
from tests.helpers import HX, MATRIX_PROCESSES, assert_varies_on_hx, cell_role, plain, text
from tests.raci.helpers import MATRIX, a_count, cell_audit, cell_div, cells, shown_role, state

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture
def qm_client(client, matrix_org, login):
    login(client, matrix_org.qm)
    return client


def _ids(org, process_code: str, dept_code: str) -> tuple[int, int]:
    return org.procs[process_code].id, org.depts[dept_code].id


# == 1. the one-A rule in the service =================================================================
def test_second_a_is_refused_without_transfer(matrix_org):
    org = matrix_org
    p, kf = _ids(org, "T-01", "KF")
    before, audit_before = cells(), len(cell_audit())

    with pytest.raises(AccountableTaken) as caught:
        set_cell(org.qm, p, kf, "A")
    assert isinstance(caught.value, Conflict)
    message = str(caught.value)
    assert "质量管理部" in message and "质量方针与目标管理" in message and "客服部" in message
    db.session.rollback()

    assert cells() == before
    assert accountable_department(p).code == "ZL"
    assert len(cell_audit()) == audit_before


def test_transfer_moves_a_and_demotes_the_old_holder_to_r(matrix_org):
    org = matrix_org
    p, kf = _ids(org, "T-01", "KF")
    zl = org.depts["ZL"].id
    before, revisions = cells(), state()["revisions"]

    changes = set_cell(org.qm, p, kf, "A", transfer=True)
    db.session.commit()

    assert changes == [CellChange(p, zl, "A", "R"), CellChange(p, kf, "I", "A")]
    assert accountable_department(p).id == kf
    assert cell_role(p, zl) == "R" and cell_role(p, kf) == "A" and a_count(p) == 1
    after = cells()
    assert {k for k in after if after[k] != before.get(k)} == {(p, zl), (p, kf)}
    assert [(e.object_id, e.summary) for e in cell_audit()] == [
        (f"{p}:{zl}", {"before": {"role": "A"}, "after": {"role": "R"}}),
        (f"{p}:{kf}", {"before": {"role": "I"}, "after": {"role": "A"}}),
    ]
    assert all(e.object_type == "raci_cell" and e.actor_id == org.qm.id for e in cell_audit())
    assert state()["revisions"] == revisions + 1
    assert db.session.scalar(sa.select(RaciRevision).order_by(RaciRevision.id.desc())).changes == 2


def test_setting_a_where_it_already_is_changes_nothing(matrix_org):
    org = matrix_org
    p, zl = _ids(org, "T-01", "ZL")
    snapshot = state()
    assert set_cell(org.qm, p, zl, "A") == []
    assert set_cell(org.qm, p, zl, "a", transfer=True) == []
    assert state() == snapshot


@pytest.mark.parametrize("new", [None, "", "R", "C", "I"])
def test_the_only_a_of_an_active_process_cannot_be_removed(matrix_org, new):
    org = matrix_org
    p, zl = _ids(org, "T-01", "ZL")
    snapshot, before = state(), cells()
    with pytest.raises(ServiceError) as caught:
        set_cell(org.qm, p, zl, new)
    assert not isinstance(caught.value, Conflict)  # a rule, not a race: the view answers 422
    assert "质量方针与目标管理" in str(caught.value)
    db.session.rollback()
    assert cells() == before and state() == snapshot
    assert accountable_department(p).code == "ZL"


def test_an_inactive_process_may_lose_its_a(matrix_org):
    org = matrix_org
    process = org.procs["T-02"]
    process.active = False
    db.session.flush()
    zl = org.depts["ZL"].id
    assert set_cell(org.qm, process.id, zl, "R") == [CellChange(process.id, zl, "A", "R")]
    assert accountable_department(process) is None and a_count(process.id) == 0


def test_a_process_without_a_accepts_its_first_a(matrix_org):
    org = matrix_org
    process = Process(code="NEW-1", name="新过程")
    db.session.add(process)
    db.session.flush()
    kf = org.depts["KF"].id
    assert set_cell(org.qm, process.id, kf, "A") == [CellChange(process.id, kf, None, "A")]
    assert accountable_department(process.id).id == kf


def test_letters_are_normalised_and_others_refused(matrix_org):
    org = matrix_org
    p, yy = _ids(org, "T-01", "YY")  # I
    assert set_cell(org.qm, p, yy, " c ") == [CellChange(p, yy, "I", "C")]
    snapshot = state()
    for bad in ("X", "RA", "负责"):
        with pytest.raises(ServiceError):
            set_cell(org.qm, p, yy, bad)
    assert state() == snapshot and cell_role(p, yy) == "C"


def test_a_deactivated_department_cannot_be_given_a_role(matrix_org, make_department):
    org = matrix_org
    closed = make_department("已撤销部门", active=False)
    with pytest.raises(ServiceError):
        set_cell(org.qm, org.procs["T-01"].id, closed.id, "R")
    assert cell_role(org.procs["T-01"].id, closed.id) is None


# == 1. the one-A rule in the database ================================================================
def test_database_refuses_two_a_rows_for_one_process(matrix_org):
    org = matrix_org
    process = Process(code="DB-1", name="数据库约束")
    db.session.add(process)
    db.session.flush()
    kf, yy = org.depts["KF"].id, org.depts["YY"].id

    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add_all([RaciAssignment(process_id=process.id, department_id=kf, role="A"),
                                RaciAssignment(process_id=process.id, department_id=yy, role="A")])
            db.session.flush()
    assert a_count(process.id) == 0

    # the same with plain SQL, one row after the other: the second INSERT is refused
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            for dept in (kf, yy):
                db.session.execute(sa.insert(RaciAssignment).values(process_id=process.id, department_id=dept, role="A"))
    assert a_count(process.id) == 0

    # an UPDATE that would make a second A is refused too
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.insert(RaciAssignment).values(process_id=process.id, department_id=kf, role="A"))
            db.session.execute(sa.insert(RaciAssignment).values(process_id=process.id, department_id=yy, role="R"))
            db.session.execute(sa.update(RaciAssignment).where(
                RaciAssignment.process_id == process.id, RaciAssignment.department_id == yy).values(role="A"))

    # only A is unique: many R, C and I rows per process are fine, and one A per process
    with db.session.begin_nested():
        db.session.execute(sa.insert(RaciAssignment), [
            {"process_id": process.id, "department_id": kf, "role": "A"},
            {"process_id": process.id, "department_id": yy, "role": "R"},
            {"process_id": process.id, "department_id": org.depts["ZH"].id, "role": "R"},
        ])
    assert a_count(process.id) == 1


def test_database_refuses_a_letter_other_than_raci(matrix_org):
    org = matrix_org
    process = Process(code="DB-2", name="角色字母")
    db.session.add(process)
    db.session.flush()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.insert(RaciAssignment).values(process_id=process.id,
                                                                department_id=org.depts["KF"].id, role="X"))


# == 1. the one-A rule under a real race (PostgreSQL) =================================================
def _race(app, qm_id: int, process_id: int, dept_ids: list[int], interleave: bool) -> dict[int, object]:
    """Each department's thread calls set_cell(..., "A") in its own app context (own session, own
    connection), all released at the same moment. With ``interleave`` every thread has read "no A yet"
    before any of them writes, so only the database can pick the winner."""
    start = threading.Barrier(len(dept_ids))
    after_read = threading.Barrier(len(dept_ids))
    original = services.accountable_department
    results: dict[int, object] = {}

    def read_then_wait(process):
        holder = original(process)
        if interleave and threading.current_thread().name.startswith("raci-race"):
            after_read.wait(timeout=20)
        return holder

    def run(dept_id: int) -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, qm_id)
                start.wait(timeout=20)
                changes = set_cell(actor, process_id, dept_id, "A")
                db.session.commit()
                results[dept_id] = changes
            except Exception as exc:  # noqa: BLE001 - every outcome is inspected by the test
                db.session.rollback()
                results[dept_id] = exc
            finally:
                db.session.remove()

    services.accountable_department = read_then_wait
    try:
        threads = [threading.Thread(target=run, args=(d,), name=f"raci-race-{d}") for d in dept_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a racing transaction never finished"
    finally:
        services.accountable_department = original
    return results


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers: two transactions can never assign an A "
                                            "at the same moment there (run with TEST_DATABASE_URL=postgresql…)")
@pytest.mark.parametrize("interleave", [True, False], ids=["both-read-before-either-writes", "plain-barrier"])
def test_concurrent_double_assignment_one_wins_the_other_gets_conflict(app, make_user, make_department, interleave):
    assert db.engine.dialect.name == "postgresql"
    first, second = make_department("并发甲部"), make_department("并发乙部")
    qm = make_user("race_qm", roles=(QUALITY_MANAGER,), department=first)
    process = Process(code="RACE-1", name="并发指定负责部门")
    db.session.add(process)
    db.session.flush()
    ids = {"qm": qm.id, "process": process.id, "depts": [first.id, second.id]}
    db.session.commit()
    db.session.remove()

    results = _race(app, ids["qm"], ids["process"], ids["depts"], interleave)

    winners = {d: r for d, r in results.items() if isinstance(r, list)}
    losers = {d: r for d, r in results.items() if not isinstance(r, list)}
    assert len(winners) == 1 and len(losers) == 1, results
    [(winner, changes)] = winners.items()
    [(loser, error)] = losers.items()
    assert changes == [CellChange(ids["process"], winner, None, "A")]
    assert isinstance(error, Conflict), f"{type(error).__name__}: {error}"
    assert "并发指定负责部门" in str(error)  # names the process; says reload / transfer

    db.session.expire_all()
    rows = db.session.execute(sa.select(RaciAssignment.department_id, RaciAssignment.role)
                              .where(RaciAssignment.process_id == ids["process"])).all()
    assert rows == [(winner, "A")]
    assert a_count(ids["process"]) == 1
    assert [e.object_id for e in cell_audit()] == [f"{ids['process']}:{winner}"]  # the loser left no trace
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RaciRevision)) == 1
    assert verify_chain().intact


# == 2. views: the grid ===============================================================================
def test_grid_full_page_and_htmx_partial(qm_client, matrix_org):
    org = matrix_org
    page = qm_client.get(f"{MATRIX}/")
    body = text(page)
    assert page.status_code == 200 and "<html" in body and 'id="raci-grid"' in body
    assert_varies_on_hx(page)
    for code, process in org.procs.items():
        assert f'id="row-{process.id}"' in body and code in body
    for dept in org.depts.values():
        assert f'<th class="raci-dept" scope="col">{dept.name}</th>' in body
    for (p, d), role in cells().items():
        assert shown_role(body, p, d) == role
    badges = re.findall(r'<span id="badge-(\d+)" class="badge (text-bg-\w+)"', body)
    assert sorted(badges) == sorted((str(p.id), "text-bg-success") for p in org.procs.values())  # one A each

    partial = qm_client.get(f"{MATRIX}/", headers=HX)
    chunk = text(partial)
    assert partial.status_code == 200
    assert chunk.lstrip().startswith('<div id="raci-grid"') and chunk.rstrip().endswith("</div>")
    assert "<html" not in chunk and "navbar" not in chunk and "<form" not in chunk
    assert chunk.count('id="raci-grid"') == 1
    assert_varies_on_hx(partial)


def test_grid_filters_by_departments_and_clause(qm_client, matrix_org):
    org = matrix_org
    kf, yy = org.depts["KF"], org.depts["YY"]
    body = text(qm_client.get(f"{MATRIX}/", query_string=[("dept", kf.id), ("dept", yy.id)], headers=HX))
    columns = re.findall(r'<th class="raci-dept" scope="col">(.*?)</th>', body)
    assert columns == ["客服部", "运营部"]
    shown = {(int(p), int(d)) for p, d in re.findall(r'id="c-(\d+)-(\d+)"', body)}
    assert {d for _p, d in shown} == {kf.id, yy.id}
    assert {p for p, _d in shown} == {p.id for p in org.procs.values()}

    # the full page keeps every department in the filter's select, with the chosen ones selected
    page = text(qm_client.get(f"{MATRIX}/", query_string=[("dept", kf.id)]))
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', page.split('name="clause"')[0])
    assert {name for _v, _s, name in options} == {d.name for d in org.depts.values()}
    assert [name for _v, selected, name in options if selected] == ["客服部"]

    clause = org.clauses["9.2"]  # only T-05 内部审核
    body = text(qm_client.get(f"{MATRIX}/", query_string={"clause": clause.id}, headers=HX))
    assert re.findall(r'<tr id="row-(\d+)"', body) == [str(org.procs["T-05"].id)]
    clause = org.clauses["10.2"]  # T-03 only
    body = text(qm_client.get(f"{MATRIX}/", query_string={"clause": clause.id, "dept": kf.id}, headers=HX))
    assert re.findall(r'<tr id="row-(\d+)"', body) == [str(org.procs["T-03"].id)]
    assert re.findall(r'<th class="raci-dept" scope="col">(.*?)</th>', body) == ["客服部"]
    body = text(qm_client.get(f"{MATRIX}/", query_string={"clause": org.clauses["8.4"].id}, headers=HX))
    assert '<tr id="row-' not in body  # no process references 8.4


def test_grid_hides_deactivated_processes_unless_asked(qm_client, matrix_org):
    org = matrix_org
    org.procs["T-06"].active = False
    db.session.flush()
    row = f'id="row-{org.procs["T-06"].id}"'
    assert row not in text(qm_client.get(f"{MATRIX}/", headers=HX))
    assert row in text(qm_client.get(f"{MATRIX}/", query_string={"inactive": "1"}, headers=HX))


# == 2. views: editing a cell =========================================================================
def test_cell_editor_and_cancel(qm_client, matrix_org):
    p, kf = _ids(matrix_org, "T-02", "KF")  # C
    response = qm_client.get(f"{MATRIX}/cell/{p}/{kf}/edit", headers=HX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<div id="c-{p}-{kf}" class="cell-inner cell-editing" role="dialog"')
    assert f'hx-post="{MATRIX}/cell/{p}/{kf}"' in body
    assert re.search(r'<option value="C" selected>', body)
    assert set(re.findall(r'<option value="([RACI]?)"', body)) == {"", "R", "A", "C", "I"}
    assert 'name="transfer"' not in body

    cancel = qm_client.get(f"{MATRIX}/cell/{p}/{kf}", headers=HX)
    assert cancel.status_code == 200 and shown_role(text(cancel), p, kf) == "C"
    assert qm_client.get(f"{MATRIX}/cell/{p}/999999/edit", headers=HX).status_code == 404


def test_post_a_cell_returns_the_cell_and_the_badge_out_of_band(qm_client, matrix_org):
    org = matrix_org
    p, kf = _ids(org, "T-02", "KF")  # C → R
    response = qm_client.post(f"{MATRIX}/cell/{p}/{kf}", data={"role": "R"}, headers=HX)
    body = text(response)
    assert response.status_code == 200, body[:500]
    assert "<html" not in body
    assert body.lstrip().startswith(f'<div id="c-{p}-{kf}" class="cell-inner">')  # the swapped cell, not OOB
    assert shown_role(body, p, kf) == "R"
    assert re.search(rf'<span id="badge-{p}" class="badge text-bg-success" hx-swap-oob="true">', body)
    # only the badge (and the page's message box, which every form post refreshes): no other cell changed
    assert body.count('hx-swap-oob="true"') == 2 and '<div id="flashes" hx-swap-oob="true">' in body
    assert cell_role(p, kf) == "R"
    [event] = cell_audit(p, kf)
    assert event.summary == {"before": {"role": "C"}, "after": {"role": "R"}} and event.actor_id == org.qm.id


def test_post_a_transfer_also_returns_the_old_holders_cell_out_of_band(qm_client, matrix_org):
    org = matrix_org
    p, kf = _ids(org, "T-01", "KF")  # I; ZL holds A
    zl = org.depts["ZL"].id

    refused = qm_client.post(f"{MATRIX}/cell/{p}/{kf}", data={"role": "A"}, headers=HX)
    body = text(refused)
    assert refused.status_code == 409, body[:500]
    assert body.lstrip().startswith(f'<div id="c-{p}-{kf}" class="cell-inner cell-editing" role="dialog"')
    assert re.search(r'<button type="submit" name="transfer" value="1"[^>]*>', body)  # “Transfer A here”
    assert re.search(r'<option value="A" selected>', body)  # the attempted letter stays chosen
    error = plain(re.search(r'<div class="text-danger small mt-1 cell-error">(.*?)</div>', body, re.S).group(1))
    assert "质量管理部" in error and "质量方针与目标管理" in error
    assert cell_role(p, kf) == "I" and cell_role(p, zl) == "A"

    moved = qm_client.post(f"{MATRIX}/cell/{p}/{kf}", data={"role": "A", "transfer": "1"}, headers=HX)
    body = text(moved)
    assert moved.status_code == 200, body[:500]
    assert shown_role(body, p, kf) == "A"
    old = cell_div(body, p, zl)
    assert 'hx-swap-oob="true"' in old and shown_role(body, p, zl) == "R"
    assert re.search(rf'<span id="badge-{p}" class="badge text-bg-success" hx-swap-oob="true">', body)
    assert cell_role(p, kf) == "A" and cell_role(p, zl) == "R" and a_count(p) == 1
    assert [e.object_id for e in cell_audit()] == [f"{p}:{zl}", f"{p}:{kf}"]


@pytest.mark.parametrize("letter", ["X", "AA", "负"])
def test_post_an_invalid_letter_is_422_and_writes_nothing(qm_client, matrix_org, letter):
    p, kf = _ids(matrix_org, "T-02", "KF")
    snapshot = state()
    response = qm_client.post(f"{MATRIX}/cell/{p}/{kf}", data={"role": letter}, headers=HX)
    body = text(response)
    assert response.status_code == 422, body[:500]
    assert 'class="text-danger small mt-1 cell-error"' in body and 'name="transfer"' not in body
    assert state() == snapshot and cell_role(p, kf) == "C"


def test_post_removing_the_only_a_is_422(qm_client, matrix_org):
    p, zl = _ids(matrix_org, "T-01", "ZL")
    snapshot = state()
    response = qm_client.post(f"{MATRIX}/cell/{p}/{zl}", data={"role": ""}, headers=HX)
    assert response.status_code == 422
    assert "质量方针与目标管理" in plain(text(response))
    assert state() == snapshot and cell_role(p, zl) == "A"


def test_badge_shows_missing_a_for_a_new_process_then_valid(qm_client, matrix_org):
    org = matrix_org
    process = Process(code="NEW-2", name="新建过程")
    db.session.add(process)
    db.session.flush()
    body = text(qm_client.get(f"{MATRIX}/", headers=HX))
    assert re.search(rf'<span id="badge-{process.id}" class="badge text-bg-danger">', body)
    kf = org.depts["KF"].id
    assert shown_role(body, process.id, kf) == ""
    response = qm_client.post(f"{MATRIX}/cell/{process.id}/{kf}", data={"role": "A"}, headers=HX)
    assert response.status_code == 200
    assert re.search(rf'<span id="badge-{process.id}" class="badge text-bg-success" hx-swap-oob="true">', text(response))


def test_cell_history_lists_every_change_with_its_audit_rows(qm_client, matrix_org):
    org = matrix_org
    p, yy = _ids(org, "T-02", "YY")  # I
    for letter in ("C", "R", ""):
        assert qm_client.post(f"{MATRIX}/cell/{p}/{yy}", data={"role": letter}, headers=HX).status_code == 200
    qm_client.post(f"{MATRIX}/cell/{p}/{org.depts['ZH'].id}", data={"role": "C"}, headers=HX)  # another cell

    events = cell_audit(p, yy)
    assert [(e.action, e.object_type, e.object_id) for e in events] == [("raci.cell", "raci_cell", f"{p}:{yy}")] * 3
    assert [e.summary for e in events] == [
        {"before": {"role": "I"}, "after": {"role": "C"}},
        {"before": {"role": "C"}, "after": {"role": "R"}},
        {"before": {"role": "R"}, "after": {"role": None}},
    ]
    assert {e.actor_name for e in events} == {"质量经理"}

    response = qm_client.get(f"{MATRIX}/cell/{p}/{yy}/history", headers=HX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    items = [plain(i) for i in re.findall(r'<li class="list-group-item">(.*?)</li>', body, re.S)]
    assert len(items) == 3
    assert [re.search(r"(\S+) → (\S+)$", i).groups() for i in items] == [("R", "—"), ("C", "R"), ("I", "C")]
    assert all("质量经理" in i for i in items)
    assert "成文信息控制" in body and "运营部" in body

    page = qm_client.get(f"{MATRIX}/cell/{p}/{yy}/history")
    assert page.status_code == 200 and "<html" in text(page)
    empty = text(qm_client.get(f"{MATRIX}/cell/{p}/{org.depts['KF'].id}/history", headers=HX))
    assert '<li class="list-group-item text-muted">' in empty


def test_export_downloads_the_workbook(qm_client, matrix_org):
    org = matrix_org
    response = qm_client.get(f"{MATRIX}/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = unquote(response.headers["Content-Disposition"])
    assert disposition.startswith("attachment") and "质量职能分配表" in disposition and disposition.endswith(".xlsx")
    assert response.data[:4] == b"PK\x03\x04"
    sheet = load_workbook(io.BytesIO(response.data))["质量职能分配表"]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(rows) if r[0] == "过程编码")
    header = rows[header_at]
    assert header[:3] == ["过程编码", "过程名称", "标准条款"]
    assert header[3:] == [d.name for d in org.depts.values()]
    matrix = cells()
    body = {r[0]: r for r in rows[header_at + 1:] if r[0] in org.procs}
    assert set(body) == set(org.procs)
    for code, process in org.procs.items():
        assert body[code][1] == process.name
        assert body[code][2] == "、".join(c.code for c in process.clauses)
        assert body[code][3:] == [matrix.get((process.id, d.id), "") for d in org.depts.values()]


def test_my_responsibilities_groups_processes_by_role(client, matrix_org, login):
    org = matrix_org
    # 客服部: A of T-03, R of T-04 (changed here), C of T-02/T-05/T-06 (T-06 deactivated below), I of T-01
    assert set_cell(org.qm, org.procs["T-04"].id, org.depts["KF"].id, "R")
    org.procs["T-06"].active = False
    db.session.flush()
    login(client, org.employee)
    response = client.get(f"{MATRIX}/mine")
    body = text(response)
    assert response.status_code == 200 and "客服部" in body
    cards = dict(re.findall(r'class="card h-100 responsibility-([RACI])">(.*?)</ul>', body, re.S))
    grouped = {letter: re.findall(r"<code>([^<]+)</code>", chunk) for letter, chunk in cards.items()}
    assert grouped == {"R": ["T-04"], "A": ["T-03"], "C": ["T-02", "T-05"], "I": ["T-01"]}


def test_my_responsibilities_without_a_department(client, make_user, login):
    user = make_user("nodept")
    user.department_id = None
    db.session.flush()
    login(client, user)
    response = client.get(f"{MATRIX}/mine")
    assert response.status_code == 200
    assert "<code>" not in text(response)


def test_service_api_is_what_the_grid_shows(matrix_org):
    """load_matrix counts the A's the badges show, and knows who may edit."""
    org = matrix_org
    matrix = services.load_matrix(org.qm)
    assert [p.code for p in matrix.processes] == [code for code, *_ in MATRIX_PROCESSES]
    assert all(matrix.valid(p) and matrix.a_count[p.id] == 1 for p in matrix.processes)
    assert matrix.full_edit and matrix.editable_departments == {d.id for d in org.depts.values()} | {
        d.id for d in db.session.scalars(sa.select(Department).where(Department.active.is_(True)))}
    head = services.load_matrix(org.heads["KF"])
    assert not head.full_edit and head.editable_departments == {org.depts["KF"].id}
    assert services.load_matrix(org.employee).editable_departments == set()


def test_matrix_cells_are_named_by_department_process_and_role(qm_client, matrix_org):
    body = qm_client.get(f"{MATRIX}/", headers=HX).get_data(as_text=True)
    names = re.findall(r'<button type="button" class="cell-btn[^"]*"[^>]*aria-label="([^"]+)"', body)
    assert names, body[:500]
    assert all(re.fullmatch(r".+ · .+: ([RACI] .+|\s*.+)", name) for name in names), names[:5]
    assert any(name.endswith(": A 负责/批准") for name in names), names[:10]
    assert 'id="raci-grid" class="raci-scroll" tabindex="0" role="region"' in body
