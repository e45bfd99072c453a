"""Spreadsheet uploads are bounded (issue 8, item 3): the reported 103 KB file (20,000 rows, each with one
cell at column XFD) and a zip bomb are refused at once on both imports, with the message saying the limits,
and nothing is written; an ordinary file still imports. Time and memory are measured in
bench/upload_bench.py, not here.
"""
from __future__ import annotations

import io

import pytest

from portal.core import uploads
from portal.core.errors import ServiceError
from portal.core.uploads import MAX_COLUMNS, read_xlsx_rows
from portal.org.roster import MAX_ROWS as ROSTER_ROWS
from portal.raci import excel
from tests.helpers import HX, text, translated
from tests.org.helpers import db_state, user_by_name
from tests.raci.helpers import cells, state
from tests.xlsx_files import shared_strings_bomb, workbook, xfd_workbook, zip_bomb

ROSTER = "/admin/org/roster"
MATRIX_IMPORT = "/quality/matrix/import"
ROSTER_HEADER = ["用户名", "姓名", "邮箱", "部门", "岗位", "角色"]
TOO_LARGE = "The spreadsheet is too large: at most %(rows)d rows and %(columns)d columns."
TOO_LARGE_UNPACKED = "The spreadsheet is too large when unpacked (at most %(mb)d MB)."


def post_file(client, url: str, content: bytes, filename: str, hx: bool = False):
    return client.post(url, data={"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data",
                       headers=HX if hx else {})


# == the reader ======================================================================================
@pytest.mark.parametrize("declared", [True, False], ids=["declared-dimension", "no-dimension"])
def test_xfd_sheet_is_refused_whatever_its_declared_dimension(app, declared):
    content = xfd_workbook(ROSTER_HEADER, declared=declared)
    assert len(content) < 110_000  # the reported file was 103 KB
    with app.test_request_context("/"), pytest.raises(ServiceError) as refused:
        read_xlsx_rows(content, max_rows=ROSTER_ROWS)
    assert str(refused.value) == translated(app, TOO_LARGE, rows=ROSTER_ROWS, columns=MAX_COLUMNS)


def test_a_dimension_that_lies_small_does_not_help(app):
    # Declared A1:B2, but the sheet goes on to column XFD.
    content = workbook([ROSTER_HEADER], extra_rows=[(2, 16384, "x")], dimension="A1:B2")
    with app.test_request_context("/"), pytest.raises(ServiceError):
        read_xlsx_rows(content)


def test_row_and_cell_limits(app, monkeypatch):
    rows = [["a", "b"]] * 12
    with app.test_request_context("/"):
        assert read_xlsx_rows(workbook(rows), max_rows=11) == rows
        with pytest.raises(ServiceError):
            read_xlsx_rows(workbook(rows), max_rows=10)
        with pytest.raises(ServiceError):  # the declared dimension alone says so
            read_xlsx_rows(workbook([["a"]], dimension="A1:A100"), max_rows=10)
        with pytest.raises(ServiceError):
            read_xlsx_rows(workbook(rows), max_cells=23)
        assert read_xlsx_rows(workbook(rows), max_cells=24) == rows


def test_empty_cells_far_right_are_ignored_and_rows_keep_their_numbers(app):
    # A formatted but empty cell beyond the column limit is not a value; a missing row stays an empty row.
    content = workbook([["用户名", "姓名"]], extra_rows=[(3, 16384, ""), (4, 2, "李四")])
    with app.test_request_context("/"):
        assert read_xlsx_rows(content) == [["用户名", "姓名"], [], [], ["", "李四"]]


def test_zip_bomb_is_refused_before_it_is_unpacked(app, monkeypatch):
    content = zip_bomb(unpacked_mb=80)
    assert len(content) < 200_000

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    with app.test_request_context("/"), pytest.raises(ServiceError) as refused:
        read_xlsx_rows(content)
    assert str(refused.value) == translated(app, TOO_LARGE_UNPACKED, mb=uploads.MAX_SHEET_BYTES // 2**20)


def test_a_huge_shared_string_table_is_refused_before_it_is_loaded(app, monkeypatch):
    content = shared_strings_bomb()
    assert len(content) < 100_000
    monkeypatch.setattr("openpyxl.load_workbook", lambda *a, **k: pytest.fail("the workbook was opened"))
    with app.test_request_context("/"), pytest.raises(ServiceError) as refused:
        read_xlsx_rows(content)
    assert str(refused.value) == translated(app, TOO_LARGE_UNPACKED, mb=uploads.MAX_OTHER_PARTS_BYTES // 2**20)
    monkeypatch.undo()
    with app.test_request_context("/"):  # a small table is read
        assert read_xlsx_rows(shared_strings_bomb(1000)) == [["a"]]


def test_values_read_as_openpyxl_gives_them(app):
    """The streamed values are the ones openpyxl's own reader (data only) gave: shared strings, numbers,
    booleans, dates, formulas without a cached value (empty), gaps."""
    from datetime import date

    from openpyxl import Workbook, load_workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["text ", 7, 1.5, True, None, "=A1", "后", date(2026, 12, 2), 1e20, "  "])
    ws.append([])
    ws.append([None, None, "C3"])
    buffer = io.BytesIO()
    wb.save(buffer)
    content = buffer.getvalue()
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    expected = [["" if v is None else str(v).strip() for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    with app.test_request_context("/"):
        rows = read_xlsx_rows(content)
    # openpyxl pads every row to the widest one; the stream keeps each row to its last value.
    shared_rows = [["用户名", "姓名"], ["zhangsan", "张三"], ["", "张三"]]
    with app.test_request_context("/"):
        assert read_xlsx_rows(workbook(shared_rows, shared=True)) == shared_rows
    assert [r + [""] * (len(e) - len(r)) for r, e in zip(rows, expected)] == expected
    assert rows[0][:4] == ["text", "7", "1.5", "True"] and rows[0][7] == "2026-12-02 00:00:00"


# == roster import ===================================================================================
@pytest.fixture
def departments(make_department):
    return make_department("研发部", code="RD")


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_roster_refuses_the_xfd_file_and_writes_nothing(app, admin_client, departments, hx):
    before = db_state()
    response = post_file(admin_client, ROSTER, xfd_workbook(ROSTER_HEADER), "花名册.xlsx", hx=hx)
    body = text(response)
    assert response.status_code == 422
    assert translated(app, TOO_LARGE, rows=ROSTER_ROWS, columns=MAX_COLUMNS) in body
    assert db_state() == before


def test_roster_refuses_a_csv_as_wide_as_the_xfd_file(app, admin_client, departments):
    before = db_state()
    content = (",".join(ROSTER_HEADER) + "\r\n" + ("," * 16383 + "x\r\n") * 300).encode()
    response = post_file(admin_client, ROSTER, content, "roster.csv")
    assert response.status_code == 422
    assert translated(app, TOO_LARGE, rows=ROSTER_ROWS, columns=MAX_COLUMNS) in text(response)
    assert db_state() == before


def test_roster_refuses_a_zip_bomb(app, admin_client, departments):
    before = db_state()
    response = post_file(admin_client, ROSTER, zip_bomb(80), "花名册.xlsx")
    assert response.status_code == 422
    assert translated(app, TOO_LARGE_UNPACKED, mb=uploads.MAX_SHEET_BYTES // 2**20) in text(response)
    assert db_state() == before


@pytest.mark.parametrize("shared", [True, False], ids=["shared-strings", "inline-strings"])
def test_roster_still_imports_an_ordinary_file(admin_client, departments, shared):
    rows = [ROSTER_HEADER] + [[f"user{i}", f"员工{i}", f"user{i}@example.cn", "研发部", "工程师", "员工"]
                              for i in range(50)]
    response = post_file(admin_client, ROSTER, workbook(rows, sheet="花名册", shared=shared), "花名册.xlsx")
    body = text(response)
    assert response.status_code == 200, body[:800]
    import re

    import_id = int(re.search(rf'action="{ROSTER}/(\d+)/apply"', body).group(1))
    applied = admin_client.post(f"{ROSTER}/{import_id}/apply")
    assert applied.status_code == 303
    assert user_by_name("user0").display_name == "员工0" and user_by_name("user49") is not None


# == matrix import ===================================================================================
@pytest.fixture
def qm_client(client, matrix_org, login):
    login(client, matrix_org.qm)
    return client


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_matrix_refuses_the_xfd_file_and_writes_nothing(app, qm_client, hx):
    before, matrix = state(), cells()
    content = xfd_workbook(list(excel.HEADER), sheet=excel.SHEET, rows=4000)
    response = post_file(qm_client, MATRIX_IMPORT, content, "质量职能分配表.xlsx", hx=hx)
    assert response.status_code == 422
    assert translated(app, TOO_LARGE, rows=excel.MAX_ROWS, columns=MAX_COLUMNS) in text(response)
    assert state() == before and cells() == matrix


def test_matrix_still_imports_its_own_export(qm_client, matrix_org):
    from openpyxl import load_workbook

    export = qm_client.get("/quality/matrix/export.xlsx").data
    wb = load_workbook(io.BytesIO(export))
    ws = wb[excel.SHEET]
    header_row = next(c.row for c in ws["A"] if c.value == "过程编码")
    columns = {ws.cell(header_row, c).value: c for c in range(1, ws.max_column + 1)}
    row = next(c.row for c in ws["A"] if c.value == "T-04")
    assert ws.cell(row, columns["客服部"]).value == "C"
    ws.cell(row, columns["客服部"]).value = "I"
    buffer = io.BytesIO()
    wb.save(buffer)
    response = post_file(qm_client, MATRIX_IMPORT, buffer.getvalue(), "质量职能分配表.xlsx")
    body = text(response)
    assert response.status_code == 200, body[:800]
    import re

    import_id = int(re.search(rf'action="{MATRIX_IMPORT}/(\d+)/apply"', body).group(1))
    assert qm_client.post(f"{MATRIX_IMPORT}/{import_id}/apply").status_code == 303
    assert cells()[(matrix_org.procs["T-04"].id, matrix_org.depts["KF"].id)] == "I"
