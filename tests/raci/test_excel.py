"""The matrix as a 质量职能分配表 workbook: export, import with a cell-by-cell preview, apply exactly once.

Every bad file is refused with 422 (413 for an oversized upload) and a message naming what is wrong,
and NOTHING is written: no cell, no audit row, no pending import, no new matrix version.
"""
from __future__ import annotations

import io
import os
import re

import pytest
from openpyxl import load_workbook

from portal.core.errors import Conflict
from portal.core.uploads import PendingImport
from portal.extensions import db
from portal.org.models import User
from portal.raci import excel
from portal.raci.models import RaciRevision
from portal.raci.services import matrix_version, set_cell
from tests.helpers import HX, plain, seed_matrix, text
from tests.raci.helpers import MATRIX, a_count, cell_audit, cells, state

IMPORT = f"{MATRIX}/import"


# == helpers ==========================================================================================
class Sheet:
    """The exported sheet, addressed by process code and department name."""

    def __init__(self, content: bytes):
        self.workbook = load_workbook(io.BytesIO(content))
        self.ws = self.workbook["质量职能分配表"]
        self.header_row = next(c.row for c in self.ws["A"] if c.value == "过程编码")
        self.cols = {self.ws.cell(self.header_row, c).value: c for c in range(1, self.ws.max_column + 1)}
        self.rows = {self.ws.cell(r, 1).value: r for r in range(self.header_row + 1, self.ws.max_row + 1)
                     if self.ws.cell(r, 1).value and not str(self.ws.cell(r, 1).value).startswith("图例")}

    def get(self, code: str, dept: str):
        return self.ws.cell(self.rows[code], self.cols[dept]).value

    def set(self, code: str, dept: str, value) -> None:
        self.ws.cell(self.rows[code], self.cols[dept]).value = value

    def bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()


def export(client) -> bytes:
    response = client.get(f"{MATRIX}/export.xlsx")
    assert response.status_code == 200
    return response.data


def upload(client, content: bytes, filename: str = "质量职能分配表.xlsx", hx: bool = False):
    return client.post(IMPORT, data={"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data",
                       headers=HX if hx else {})


def preview_changes(body: str) -> list[tuple[str, str, str, str]]:
    match = re.search(r'<table class="table table-sm import-changes">.*?<tbody>(.*?)</tbody>', body, re.S)
    if not match:
        return []
    return [tuple(plain(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S))
            for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)]


def import_errors(body: str) -> list[str]:
    """Every message of the preview's error box: file-level errors (one <div> each) and per-cell errors."""
    assert '<div id="import-preview">' in body, body[:500]
    section = body.split('<div id="import-preview">', 1)[1]
    cell_errors = [plain(li) for ul in re.findall(r'<ul class="mb-0 import-errors">(.*?)</ul>', section, re.S)
                   for li in re.findall(r"<li>(.*?)</li>", ul, re.S)]
    file_errors = [plain(m) for m in re.findall(r"<div>(.*?)</div>", section, re.S)]
    return file_errors + cell_errors


def apply_id(body: str) -> int:
    match = re.search(rf'action="{IMPORT}/(\d+)/apply"', body)
    assert match, "no apply button"
    return int(match.group(1))


@pytest.fixture
def qm_client(client, matrix_org, login):
    login(client, matrix_org.qm)
    return client


# == round trip =======================================================================================
def test_export_then_upload_unchanged_is_nothing_to_change(qm_client, matrix_org):
    content = export(qm_client)
    snapshot, before = state(), cells()

    response = upload(qm_client, content)
    body = text(response)
    assert response.status_code == 200, body[:800]
    assert '<div class="alert alert-info">' in body
    assert preview_changes(body) == [] and "import-errors" not in body
    assert f"{IMPORT}/" not in body.split('<div id="import-preview">')[1]  # no apply button
    assert state() == snapshot and cells() == before  # no pending import, no audit row

    partial = upload(qm_client, content, hx=True)
    chunk = text(partial)
    assert partial.status_code == 200 and chunk.lstrip().startswith('<div id="import-preview">')
    assert "<html" not in chunk and '<div class="alert alert-info">' in chunk
    assert state() == snapshot


def test_three_changed_cells_preview_apply_once(qm_client, matrix_org):
    org = matrix_org
    sheet = Sheet(export(qm_client))
    # T-01: the A moves from 质量管理部 to 综合办公室 (two cells, one A per row); T-04: 客服部 C → I
    assert (sheet.get("T-01", "质量管理部"), sheet.get("T-01", "综合办公室"), sheet.get("T-04", "客服部")) == ("A", "C", "C")
    sheet.set("T-01", "质量管理部", "R")
    sheet.set("T-01", "综合办公室", "a")  # lower case is accepted
    sheet.set("T-04", "客服部", "I")
    content = sheet.bytes()
    before, version = cells(), matrix_version()
    snapshot = state()

    # -- preview: exactly those three cells, nothing written but the pending import ---------------
    response = upload(qm_client, content)
    body = text(response)
    assert response.status_code == 200, body[:800]
    assert preview_changes(body) == [
        ("T-01 质量方针与目标管理", "综合办公室", "C", "A"),
        ("T-01 质量方针与目标管理", "质量管理部", "A", "R"),
        ("T-04 柜面业务办理", "客服部", "C", "I"),
    ]
    import_id = apply_id(body)
    assert cells() == before
    assert state() == {**snapshot, "imports": snapshot["imports"] + 1, "audit": snapshot["audit"] + 1}
    pending = db.session.get(PendingImport, import_id)
    assert pending.kind == "raci" and pending.status == "pending" and pending.content == content
    assert pending.uploaded_by_id == org.qm.id and pending.filename == "质量职能分配表.xlsx"

    # -- apply ------------------------------------------------------------------------------------
    response = qm_client.post(f"{IMPORT}/{import_id}/apply")
    assert response.status_code == 303 and response.headers["Location"] == f"{MATRIX}/"
    after = cells()
    p1, p4 = org.procs["T-01"].id, org.procs["T-04"].id
    zh, zl, kf = org.depts["ZH"].id, org.depts["ZL"].id, org.depts["KF"].id
    assert {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)} == {
        (p1, zh): ("C", "A"), (p1, zl): ("A", "R"), (p4, kf): ("C", "I")}
    assert a_count(p1) == 1 and a_count(p4) == 1
    events = cell_audit()
    assert len(events) == 3
    assert sorted((e.object_id, e.summary["before"]["role"], e.summary["after"]["role"]) for e in events) == sorted([
        (f"{p1}:{zh}", "C", "A"), (f"{p1}:{zl}", "A", "R"), (f"{p4}:{kf}", "C", "I")])
    assert all(e.summary.get("via") == "import" and e.object_type == "raci_cell" and e.actor_id == org.qm.id
               for e in events)
    assert events[0].object_id == f"{p1}:{zl}"  # the cell losing its A is written first
    assert matrix_version() == version + 1
    revision = db.session.query(RaciRevision).order_by(RaciRevision.id.desc()).first()
    assert (revision.source, revision.changes, revision.actor_id) == ("import", 3, org.qm.id)
    db.session.refresh(pending)
    assert pending.status == "applied" and pending.result == {"changes": 3, "version": version + 1}
    grid = text(qm_client.get(response.headers["Location"]))
    assert f"V{version + 1}" in grid and 'alert-success' in grid

    # -- a second click applies nothing -----------------------------------------------------------
    snapshot = state()
    again = qm_client.post(f"{IMPORT}/{import_id}/apply")
    assert again.status_code == 303
    assert cells() == after and state() == snapshot and matrix_version() == version + 1
    assert 'alert-info' in text(qm_client.get(again.headers["Location"]))

    # -- the matrix now exports what was imported: a new upload of it changes nothing ----------------
    assert preview_changes(text(upload(qm_client, export(qm_client)))) == []


def test_apply_replans_against_the_matrix_as_it_is_now(qm_client, matrix_org):
    org = matrix_org
    sheet = Sheet(export(qm_client))
    sheet.set("T-02", "客服部", "R")
    sheet.set("T-03", "运营部", "I")
    body = text(upload(qm_client, sheet.bytes()))
    assert len(preview_changes(body)) == 2
    import_id = apply_id(body)
    # meanwhile someone sets one of the two cells by hand
    assert qm_client.post(f"{MATRIX}/cell/{org.procs['T-02'].id}/{org.depts['KF'].id}", data={"role": "R"},
                          headers=HX).status_code == 200
    before = len(cell_audit())
    assert qm_client.post(f"{IMPORT}/{import_id}/apply").status_code == 303
    imported = cell_audit()[before:]
    assert [e.object_id for e in imported] == [f"{org.procs['T-03'].id}:{org.depts['YY'].id}"]
    assert db.session.get(PendingImport, import_id).result["changes"] == 1


def test_apply_of_someone_elses_import_is_404(qm_client, matrix_org, make_user, app, login):
    from portal.core.roles import ADMIN

    sheet = Sheet(export(qm_client))
    sheet.set("T-02", "客服部", "R")
    import_id = apply_id(text(upload(qm_client, sheet.bytes())))
    other = app.test_client()
    login(other, make_user("other_admin", roles=(ADMIN,)))
    snapshot = state()
    assert other.post(f"{IMPORT}/{import_id}/apply").status_code == 404
    assert state() == snapshot


# == bad files ========================================================================================
def _wrong_sheet(sheet: Sheet) -> None:
    sheet.ws.title = "Sheet1"


def _unknown_department(sheet: Sheet) -> None:
    sheet.ws.cell(sheet.header_row, sheet.cols["运营部"]).value = "不存在的部门"


def _department_twice(sheet: Sheet) -> None:
    sheet.ws.cell(sheet.header_row, sheet.cols["运营部"]).value = "客服部"


def _unknown_process(sheet: Sheet) -> None:
    sheet.ws.cell(sheet.rows["T-03"], 1).value = "ZZ-99"


def _process_twice(sheet: Sheet) -> None:
    sheet.ws.cell(sheet.rows["T-03"], 1).value = "T-02"


def _two_a(sheet: Sheet) -> None:
    sheet.set("T-01", "综合办公室", "A")  # 质量管理部 keeps its A
    sheet.set("T-04", "客服部", "R")  # a valid change next to it: still nothing may be written


def _no_a(sheet: Sheet) -> None:
    sheet.set("T-01", "质量管理部", None)


def _invalid_letter(sheet: Sheet) -> None:
    sheet.set("T-02", "客服部", "X")
    sheet.set("T-04", "客服部", "R")


def _no_header(sheet: Sheet) -> None:
    sheet.ws.cell(sheet.header_row, 1).value = "编码"


BAD_SHEETS = {
    # case: (change, what the message must name)
    "wrong-sheet": (_wrong_sheet, ["质量职能分配表"]),
    "unknown-department": (_unknown_department, ["不存在的部门", "G"]),
    "department-twice": (_department_twice, ["客服部"]),
    "unknown-process": (_unknown_process, ["ZZ-99"]),
    "process-twice": (_process_twice, ["T-02"]),
    "two-a-in-a-row": (_two_a, ["T-01", "综合办公室", "质量管理部"]),
    "empty-a-of-active-process": (_no_a, ["T-01"]),
    "invalid-letter": (_invalid_letter, ["X", "F"]),
    "no-header-row": (_no_header, ["过程编码"]),
}


def _assert_refused(response, state_before: dict, cells_before: dict, status: int = 422) -> str:
    body = text(response)
    assert response.status_code == status, body[:800]
    assert state() == state_before  # no cell, no audit row, no pending import, no revision
    assert cells() == cells_before
    assert f"{IMPORT}/" not in body.split('<div id="import-preview">')[-1]  # no apply button
    return body


@pytest.mark.parametrize("case", list(BAD_SHEETS))
def test_bad_workbook_is_refused_and_nothing_is_written(qm_client, matrix_org, case):
    change, names = BAD_SHEETS[case]
    sheet = Sheet(export(qm_client))
    change(sheet)
    content = sheet.bytes()
    snapshot, before = state(), cells()

    for hx in (False, True):
        body = _assert_refused(upload(qm_client, content, hx=hx), snapshot, before)
        errors = import_errors(body)
        assert errors, body[:1500]
        joined = " ".join(errors)
        for name in names:
            assert name in joined, (name, errors)
        assert preview_changes(body) == []


def test_errors_name_the_row_and_column(qm_client, matrix_org):
    sheet = Sheet(export(qm_client))
    sheet.set("T-02", "客服部", "X")
    row, col = sheet.rows["T-02"], sheet.cols["客服部"]
    body = text(upload(qm_client, sheet.bytes()))
    [error] = import_errors(body)
    from openpyxl.utils import get_column_letter

    assert get_column_letter(col) == "F"
    assert re.search(rf"\b{row}\b", error) and re.search(r"\bF\b", error) and "“X”" in error


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _not_a_zip_workbook() -> bytes:
    """A zip that is no workbook: starts like an .xlsx."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "不是表格")
    return buffer.getvalue()


BAD_FILES = {
    "png": ("质量职能分配表.xlsx", PNG, ".xlsx"),
    "plain-text": ("质量职能分配表.xlsx", "过程编码,过程名称\nT-01,质量方针与目标管理\n".encode("utf-8"), ".xlsx"),
    "old-xls": ("质量职能分配表.xls", XLS, ".xls"),
    "zip-not-workbook": ("质量职能分配表.xlsx", _not_a_zip_workbook(), ".xlsx"),
    "empty": ("质量职能分配表.xlsx", b"", None),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_file_that_is_not_an_xlsx_is_refused(qm_client, matrix_org, case):
    filename, content, mention = BAD_FILES[case]
    snapshot, before = state(), cells()
    body = _assert_refused(upload(qm_client, content, filename), snapshot, before)
    errors = import_errors(body)
    assert errors, body[:1500]
    if mention:
        assert any(mention in e for e in errors), errors


def test_an_oversized_upload_is_413_with_a_clear_message(qm_client, matrix_org, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit
    snapshot, before = state(), cells()
    content = b"PK\x03\x04" + b"\x00" * (limit + 1024)
    for hx in (False, True):
        body = _assert_refused(upload(qm_client, content, hx=hx), snapshot, before, status=413)
        assert f"{limit // (1024 * 1024)} MB" in plain(body)
        if not hx:
            assert "<html" in body


# == an import racing a cell edit (PostgreSQL) ========================================================
ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers: a cell edit cannot commit while an import "
                                            "is being applied there (run with TEST_DATABASE_URL=postgresql…)")
def test_import_racing_a_cell_edit_is_a_conflict_and_writes_nothing(app, make_user, monkeypatch):
    """The import is planned, then — before it writes — someone moves the same process's A elsewhere and
    commits on another connection. Applying must refuse cleanly (Conflict → flash), not crash with an
    IntegrityError, and write nothing."""
    org = seed_matrix(make_user)  # committed
    with app.test_request_context():
        sheet = Sheet(excel.export_workbook(org.qm))
    sheet.set("T-01", "质量管理部", "R")
    sheet.set("T-01", "综合办公室", "A")
    pending, plan = excel.upload(org.qm, "m.xlsx", sheet.bytes())
    assert len(plan.changes) == 2
    db.session.commit()
    p1, kf = org.procs["T-01"].id, org.depts["KF"].id
    qm_id, import_id = org.qm.id, pending.id

    original = excel.plan_rows  # the planning step of apply (the file itself is read before the lock)

    def plan_then_someone_edits(rows):
        planned = original(rows)
        with app.app_context():  # another session, another connection, committed before the import writes
            assert set_cell(db.session.get(User, qm_id), p1, kf, "A", transfer=True)
            db.session.commit()
        return planned

    monkeypatch.setattr(excel, "plan_rows", plan_then_someone_edits)
    before_audit = len(cell_audit())
    with pytest.raises(Conflict):
        excel.apply(db.session.get(User, qm_id), import_id)
    db.session.rollback()

    db.session.expire_all()
    assert db.session.get(PendingImport, import_id).status == "pending"
    assert [e.summary.get("via") for e in cell_audit()[before_audit:]] == [None, None]  # only the hand edit
    zh, zl = org.depts["ZH"].id, org.depts["ZL"].id
    now = cells()
    assert (now[(p1, kf)], now[(p1, zl)], now[(p1, zh)]) == ("A", "R", "C")
    assert a_count(p1) == 1
