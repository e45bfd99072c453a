"""Roster import (/admin/org/roster): upload .xlsx or .csv, preview, apply exactly once.

Error messages are gettext msgids whose Chinese translations are still being written, so these tests
check structure (status, row numbers, counts, nothing written), not wording.
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from portal.core.uploads import PendingImport
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.extensions import db
from portal.org import roster
from portal.org.models import Position, User
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from tests.helpers import (
    DEFAULT_PASSWORD, HX, assert_full_page, assert_page, assert_partial, audit, flashes, plain_text, text,
)
from tests.org.helpers import NON_ADMIN_ROLES, db_state, user_by_name

ROSTER = "/admin/org/roster"
HEADER = ["用户名", "姓名", "邮箱", "部门", "岗位", "角色"]
#: Against the ``org`` fixture: row 2 unchanged, rows 3–4 new, row 5 changes 赵六.
ROWS = [
    ["zhangsan", "张三", "zhangsan@example.cn", "研发部", "工程师", "员工"],
    ["lisi", "李四", "lisi@example.cn", "RD", "测试工程师", "员工"],  # department by code, a new position
    ["WangWu", "龚䶮", "wangwu@example.cn", "质量部", "", "质量经理、部门负责人"],  # 䶮: GB18030, not GBK
    ["zhaoliu", "赵六（调岗）", "zhaoliu@example.cn", "质量部", "", ""],
]


# == file builders ==================================================================================
def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "花名册"
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


FORMATS = {
    "xlsx": lambda rows: ("花名册.xlsx", xlsx(rows)),
    "csv-utf8": lambda rows: ("roster.csv", csv_bytes(rows)),
    "csv-utf8-bom": lambda rows: ("roster.csv", csv_bytes(rows, "utf-8-sig")),
    "csv-gb18030": lambda rows: ("花名册.csv", csv_bytes(rows, "gb18030")),
    "tsv-gb18030": lambda rows: ("roster.txt", csv_bytes(rows, "gb18030", "\t")),
    "csv-semicolon": lambda rows: ("roster.csv", csv_bytes(rows, "utf-8", ";")),
}


def upload(client, filename: str, content: bytes, hx: bool = False):
    return client.post(ROSTER, data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data", headers=HX if hx else {})


def pending_id(body: str) -> int:
    match = re.search(rf'action="{ROSTER}/(\d+)/apply"', body)
    assert match, "no apply button"
    return int(match.group(1))


def table(body: str, css_class: str) -> list[list[str]]:
    """The body cells of the preview table with the given class, as plain text."""
    match = re.search(rf'<table class="[^"]*\b{css_class}\b[^"]*">(.*?)</table>', body, re.S)
    if not match:
        return []
    tbody = re.search(r"<tbody>(.*?)</tbody>", match.group(1), re.S).group(1)
    return [[plain_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)]


def error_rows(body: str) -> dict[int, str]:
    """Row number → error text of the preview's error table."""
    return {int(cells[0]): cells[2] for cells in table(body, "roster-errors")}


def preview_alert(body: str, kind: str) -> str:
    match = re.search(rf'<div id="roster-preview">.*?<div class="alert alert-{kind}"[^>]*>(.*?)</div>', body, re.S)
    return plain_text(match.group(1)).strip() if match else ""


# == fixtures =======================================================================================
@pytest.fixture
def org(make_department, make_user):
    rd = make_department("研发部", code="RD")
    qa = make_department("质量部", code="QA")
    engineer = Position(department=rd, name="工程师")
    db.session.add(engineer)
    db.session.flush()
    zhangsan = make_user("zhangsan", department=rd, display_name="张三")
    zhangsan.position = engineer
    zhaoliu = make_user("zhaoliu", department=rd, display_name="赵六")
    zhaoliu.position = engineer
    db.session.flush()
    return {"rd": rd, "qa": qa, "engineer": engineer, "zhangsan": zhangsan, "zhaoliu": zhaoliu}


def assert_nothing_written(state: dict) -> None:
    assert db_state() == state
    assert audit("user.create") == [] and audit("user.update") == [] and audit("user.deactivate") == []


# == page ===========================================================================================
def test_roster_page_and_partial(admin_client):
    page = assert_full_page(admin_client.get(ROSTER))
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page
    partial = assert_partial(admin_client.get(ROSTER, headers=HX))
    assert partial.lstrip().startswith('<div id="roster-preview">')


# == the happy path =================================================================================
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_preview_then_apply_exactly_once(admin_client, admin, org, fmt):
    filename, content = FORMATS[fmt]([HEADER, *ROWS])
    state = db_state()

    # -- preview: nothing written but the pending import ------------------------------------------
    response = upload(admin_client, filename, content)
    body = assert_full_page(response)
    assert [(c[0], c[1]) for c in table(body, "roster-creates")] == [("3", "lisi"), ("4", "wangwu")]
    creates = {c[1]: c for c in table(body, "roster-creates")}
    assert creates["wangwu"][2] == "龚䶮" and creates["lisi"][4] == "研发部"  # decoded, department resolved
    updates = table(body, "roster-updates")
    assert [(u[0], u[1]) for u in updates] == [("5", "zhaoliu")]
    assert "赵六（调岗）" in updates[0][2] and "质量部" in updates[0][2]
    assert "1" in preview_alert(body, "success") and "测试工程师" in preview_alert(body, "success")
    assert table(body, "roster-errors") == []
    import_id = pending_id(body)

    after_preview = db_state()
    assert after_preview == {**state, "imports": state["imports"] + 1, "audit": state["audit"] + 1}
    assert user_by_name("lisi") is None and user_by_name("wangwu") is None
    assert org["zhaoliu"].display_name == "赵六" and org["zhaoliu"].department_id == org["rd"].id
    pending = db.session.get(PendingImport, import_id)
    assert pending.status == "pending" and pending.content == content
    assert pending.sha256 == hashlib.sha256(content).hexdigest() and pending.uploaded_by_id == admin.id
    [event] = audit("roster_import.upload")
    assert event.summary["creates"] == 2 and event.summary["updates"] == 1

    # -- apply ------------------------------------------------------------------------------------
    response = admin_client.post(f"{ROSTER}/{import_id}/apply")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/org/users"
    [(category, _message)] = flashes(text(admin_client.get(response.headers["Location"])))
    assert category == "success"
    db.session.refresh(pending)
    assert pending.status == "applied" and pending.applied_at is not None
    assert pending.result == {"created": 2, "updated": 1, "unchanged": 1}

    lisi, wangwu = user_by_name("lisi"), user_by_name("wangwu")
    assert (lisi.display_name, lisi.email, lisi.department_id) == ("李四", "lisi@example.cn", org["rd"].id)
    assert lisi.position.name == "测试工程师" and lisi.position.department_id == org["rd"].id
    assert lisi.roles == {EMPLOYEE} and lisi.active
    assert wangwu.display_name == "龚䶮" and wangwu.department_id == org["qa"].id and wangwu.position is None
    assert wangwu.roles == {QUALITY_MANAGER, DEPT_HEAD}
    zhaoliu = org["zhaoliu"]
    db.session.refresh(zhaoliu)
    assert (zhaoliu.display_name, zhaoliu.department_id, zhaoliu.position_id) == ("赵六（调岗）", org["qa"].id, None)
    assert zhaoliu.roles == {EMPLOYEE}  # an empty 角色 cell leaves the roles alone
    db.session.refresh(org["zhangsan"])
    assert org["zhangsan"].position_id == org["engineer"].id

    assert sorted(e.object_id for e in audit("user.create")) == sorted([str(lisi.id), str(wangwu.id)])
    assert [e.object_id for e in audit("user.update")] == [str(zhaoliu.id)]
    assert len(audit("position.create")) == 1
    [applied] = audit("roster_import.apply")
    assert applied.summary == {"created": 2, "updated": 1, "unchanged": 1}
    after_apply = db_state()
    assert after_apply["users"] == state["users"] + 2 and after_apply["positions"] == state["positions"] + 1

    # imported accounts have no usable password until an administrator issues one
    assert lisi.password_hash == ""
    for password in ("", DEFAULT_PASSWORD):
        response = admin_client.application.test_client().post("/login", data={"username": "lisi", "password": password})
        assert response.status_code == 422
    after_apply = db_state()  # (the failed login above is on the audit trail too)

    # -- a second click applies nothing -----------------------------------------------------------
    response = admin_client.post(f"{ROSTER}/{import_id}/apply")
    assert response.status_code == 303
    assert [c for c, _m in flashes(text(admin_client.get(response.headers["Location"])))] == ["info"]
    assert db_state() == after_apply

    # -- the same file again: nothing to change, nothing written ----------------------------------
    body = assert_full_page(upload(admin_client, filename, content))
    assert preview_alert(body, "info") and "4" in preview_alert(body, "info")  # 4 rows unchanged
    assert f"{ROSTER}/" not in body.split('id="roster-preview"')[1]  # no apply button
    assert table(body, "roster-creates") == [] and table(body, "roster-updates") == []
    assert db_state() == after_apply


def test_apply_via_htmx_and_twice(admin_client, org):
    body = text(upload(admin_client, "r.xlsx", xlsx([HEADER, *ROWS]), hx=True))
    assert body.lstrip().startswith('<div id="roster-preview">') and "<html" not in body
    import_id = pending_id(body)
    first = admin_client.post(f"{ROSTER}/{import_id}/apply", headers=HX)
    assert first.status_code == 204 and first.headers["HX-Redirect"] == "/admin/org/users"
    state = db_state()
    second = admin_client.post(f"{ROSTER}/{import_id}/apply", headers=HX)
    assert second.status_code == 204
    assert db_state() == state
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "lisi")) == 1


def test_two_previews_of_one_file_apply_once(admin_client, org):
    content = xlsx([HEADER, *ROWS])
    first = pending_id(text(upload(admin_client, "r.xlsx", content)))
    second = pending_id(text(upload(admin_client, "r.xlsx", content)))
    assert first != second
    admin_client.post(f"{ROSTER}/{first}/apply")
    state = db_state()
    # the second preview is re-planned against the database as it is now: nothing left to do
    response = admin_client.post(f"{ROSTER}/{second}/apply")
    assert response.status_code == 303
    assert db_state()["users"] == state["users"]
    assert audit("user.create").__len__() == 2
    assert db.session.get(PendingImport, second).result == {"created": 0, "updated": 0, "unchanged": 4}


def test_apply_replans_against_the_current_database(admin_client, admin, org, make_user):
    import_id = pending_id(text(upload(admin_client, "r.xlsx", xlsx([HEADER, *ROWS]))))
    make_user("lisi", department=org["rd"], display_name="李四（手工）")  # created by hand meanwhile
    state = db_state()
    assert admin_client.post(f"{ROSTER}/{import_id}/apply").status_code == 303
    assert db_state()["users"] == state["users"] + 1  # only wangwu; lisi is updated, not duplicated
    assert user_by_name("lisi").display_name == "李四"
    assert db.session.get(PendingImport, import_id).result == {"created": 1, "updated": 2, "unchanged": 1}


def test_apply_refused_when_the_file_no_longer_validates(admin_client, org):
    import_id = pending_id(text(upload(admin_client, "r.xlsx", xlsx([HEADER, *ROWS]))))
    org["qa"].active = False  # deactivated between preview and apply
    db.session.flush()
    state = db_state()
    response = admin_client.post(f"{ROSTER}/{import_id}/apply")
    assert response.status_code == 303 and response.headers["Location"] == ROSTER
    [(category, message)] = flashes(text(admin_client.get(ROSTER)))
    assert category == "danger" and "质量部" in message
    assert "4" in message and "5" in message and "3" not in message  # the rows that now fail, only those
    assert_nothing_written(state)
    assert db.session.get(PendingImport, import_id).status == "pending"


def test_only_the_uploader_may_apply(admin_client, org, make_user, client_for):
    import_id = pending_id(text(upload(admin_client, "r.xlsx", xlsx([HEADER, *ROWS]))))
    other_admin = client_for(make_user("admin2", roles=(ADMIN,)))
    state = db_state()
    assert other_admin.post(f"{ROSTER}/{import_id}/apply").status_code == 404
    assert other_admin.post(f"{ROSTER}/999999/apply").status_code == 404
    assert db_state() == state


def test_english_headers_and_role_codes(admin_client, org):
    rows = [["Username", "Name", "E-mail", "Department", "Position", "Roles"],
            ["qianqi", "钱七", "qianqi@example.cn", "qa", "审核员", "quality_manager, employee"]]
    import_id = pending_id(text(upload(admin_client, "r.csv", csv_bytes(rows))))
    admin_client.post(f"{ROSTER}/{import_id}/apply")
    user = user_by_name("qianqi")
    assert user.roles == {QUALITY_MANAGER, EMPLOYEE} and user.department_id == org["qa"].id
    assert user.position.name == "审核员"


def test_columns_in_any_order_and_header_below_blank_rows(admin_client, org):
    rows = [[], ["邮箱", "部门", "用户名", "姓名"], ["a1@example.cn", "研发部", "newbie", "新人"]]
    body = text(upload(admin_client, "r.xlsx", xlsx(rows)))
    assert [(c[0], c[1], c[2]) for c in table(body, "roster-creates")] == [("3", "newbie", "新人")]


def test_missing_position_column_keeps_positions(admin_client, org):
    rows = [["用户名", "姓名", "邮箱", "部门"], ["zhangsan", "张三", "zhangsan@example.cn", "研发部"]]
    state = db_state()
    body = assert_full_page(upload(admin_client, "r.csv", csv_bytes(rows)))
    assert preview_alert(body, "info")  # nothing to change
    assert db_state() == state
    # moving department without a 岗位 column drops the old department's position
    rows[1][3] = "质量部"
    import_id = pending_id(text(upload(admin_client, "r.csv", csv_bytes(rows))))
    admin_client.post(f"{ROSTER}/{import_id}/apply")
    db.session.refresh(org["zhangsan"])
    assert org["zhangsan"].department_id == org["qa"].id and org["zhangsan"].position_id is None


def test_empty_position_cell_clears_the_position(admin_client, org):
    rows = [HEADER, ["zhangsan", "张三", "zhangsan@example.cn", "研发部", "", ""]]
    import_id = pending_id(text(upload(admin_client, "r.csv", csv_bytes(rows))))
    admin_client.post(f"{ROSTER}/{import_id}/apply")
    db.session.refresh(org["zhangsan"])
    assert org["zhangsan"].position_id is None


# == bad input ======================================================================================
def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _rebuilt_xlsx(change, rows: int = 2) -> bytes:
    """A real .xlsx whose parts pass through ``change(name, data)`` (None drops the part)."""
    good = zipfile.ZipFile(io.BytesIO(xlsx([HEADER, *ROWS] + [[f"u{i}", "名", f"u{i}@example.cn", "研发部"]
                                                              for i in range(rows)])))
    parts = {n: change(n, good.read(n)) for n in good.namelist()}
    return _zip({n: d for n, d in parts.items() if d is not None})


def _broken_xlsx() -> bytes:
    return _rebuilt_xlsx(lambda n, d: b"<not xml" if n.startswith("xl/worksheets/") else d)


def _truncated_sheet_xlsx() -> bytes:
    # the sheet is parsed lazily: this one only fails while the rows are read
    return _rebuilt_xlsx(lambda n, d: d[: len(d) // 2] if n.startswith("xl/worksheets/") else d, rows=200)


def _xlsx_without_sheets() -> bytes:
    def change(name, data):
        if name == "xl/workbook.xml":
            return data.split(b"<sheets>")[0] + b"<sheets/>" + data.split(b"</sheets>")[1]
        return data

    return _rebuilt_xlsx(change)


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
RANDOM = bytes(random.Random(20240501).randrange(256) for _ in range(4096))
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

def _future_zip_version() -> bytes:
    """An xlsx whose zip directory claims "version needed to extract 11.7": zipfile raises NotImplementedError."""
    data = bytearray(xlsx([HEADER, *ROWS]))
    at = data.find(b"PK\x01\x02")
    data[at + 6:at + 8] = (117).to_bytes(2, "little")
    return bytes(data)


BAD_FILES = {
    "future-zip-version": ("r.xlsx", _future_zip_version),
    "missing-column": ("r.xlsx", lambda: xlsx([["用户名", "姓名", "部门"], ["a1", "甲", "研发部"]])),
    "missing-columns-csv": ("r.csv", lambda: csv_bytes([["工号", "名字"], ["a1", "甲"]], "gb18030")),
    "png-named-xlsx": ("r.xlsx", lambda: PNG),
    "png-named-csv": ("r.csv", lambda: PNG),
    "random-named-xlsx": ("r.xlsx", lambda: RANDOM),
    "random-named-csv": ("r.csv", lambda: RANDOM),
    "zip-not-xlsx": ("r.xlsx", lambda: _zip({"readme.txt": b"hello"})),
    "broken-xlsx": ("r.xlsx", _broken_xlsx),
    "truncated-sheet-xml": ("r.xlsx", _truncated_sheet_xlsx),
    "xlsx-without-sheets": ("r.xlsx", _xlsx_without_sheets),
    "truncated-xlsx": ("r.xlsx", lambda: xlsx([HEADER, *ROWS])[:700]),
    "empty": ("r.xlsx", lambda: b""),
    "empty-csv": ("r.csv", lambda: b""),
    "blank-sheet": ("r.xlsx", lambda: xlsx([])),
    "old-xls": ("r.xls", lambda: OLE),
    "old-xls-named-xlsx": ("r.xlsx", lambda: OLE),
    "header-only-xlsx": ("r.xlsx", lambda: xlsx([HEADER])),
    "header-only-csv": ("r.csv", lambda: csv_bytes([HEADER], "gb18030")),
    "text-without-columns": ("r.csv", lambda: "这不是表格\n只是一段文字\n".encode()),
}


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_and_nothing_is_written(admin_client, org, case, hx):
    filename, build = BAD_FILES[case]
    state = db_state()
    response = upload(admin_client, filename, build(), hx=hx)
    body = assert_page(response, hx, 422)
    preview = body[body.index('<div id="roster-preview">'):]
    alert = re.search(r'<div class="alert alert-danger" role="alert">(.*?)</div>\s*(?:</div>|<table|$)', preview, re.S)
    assert alert, preview[:1000]
    assert len(plain_text(alert.group(1)).strip()) >= 4  # a message, not an empty box
    assert "roster-apply" not in body and "Traceback" not in body
    assert table(body, "roster-creates") == [] and table(body, "roster-errors") == []
    assert_nothing_written(state)


def test_missing_columns_are_named(admin_client, org):
    body = text(upload(admin_client, "r.xlsx", xlsx([["用户名", "姓名", "部门"], ["a1", "甲", "研发部"]])))
    with admin_client.application.test_request_context():
        from flask_babel import force_locale, gettext

        with force_locale("zh_Hans_CN"):
            email_label = gettext("Email")
    assert email_label in preview_alert(body, "danger")


def test_upload_without_a_file_is_422(admin_client, org):
    state = db_state()
    response = admin_client.post(ROSTER, data={}, content_type="multipart/form-data")
    assert_full_page(response, 422)
    assert db_state() == state


# == per-row errors =================================================================================
def _rows_with(*extra: list) -> list[list]:
    return [HEADER, ["okuser", "正常", "okuser@example.cn", "研发部", "", ""], *extra]


@pytest.mark.parametrize("fmt", ["xlsx", "csv-gb18030"])
@pytest.mark.parametrize(
    "bad_row, line, needle",
    [
        (["okuser", "重复", "dup@example.cn", "研发部", "", ""], 3, "2"),  # duplicate of row 2 …
        (["OKUser", "重复", "dup@example.cn", "研发部", "", ""], 3, "2"),  # … whatever the case
        (["bademail", "坏邮箱", "bademail@", "研发部", "", ""], 3, "bademail@"),
        (["nodept", "无部门", "nodept@example.cn", "火星事业部", "", ""], 3, "火星事业部"),
        (["norole", "无角色", "norole@example.cn", "研发部", "", "超级用户"], 3, "超级用户"),
        (["nostatus", "怪状态", "nostatus@example.cn", "研发部", "", ""], 3, None),  # (status column added below)
        (["", "无账号", "nouser@example.cn", "研发部", "", ""], 3, None),
        (["noname", "", "noname@example.cn", "研发部", "", ""], 3, None),
        (["张三丰", "中文账号", "zsf@example.cn", "研发部", "", ""], 3, None),
    ],
    ids=["duplicate", "duplicate-case", "bad-email", "unknown-department", "unknown-role", "unknown-status",
         "no-username", "no-name", "bad-username"],
)
def test_row_errors_name_the_row_and_write_nothing(admin_client, org, fmt, bad_row, line, needle):
    rows = _rows_with(bad_row, ["later", "后面", "later@example.cn", "质量部", "", ""])
    if bad_row[0] == "nostatus":
        rows = [[*r, s] for r, s in zip(rows, ["状态", "在职", "请假", "在职"])]
    filename, content = FORMATS[fmt](rows)
    state = db_state()
    body = assert_full_page(upload(admin_client, filename, content), 422)
    errors = error_rows(body)
    assert list(errors) == [line]  # only the bad row; rows 2 and 4 are fine
    assert errors[line]
    if needle:
        assert needle in errors[line]
    assert preview_alert(body, "danger")
    assert "roster-apply" not in body
    assert_nothing_written(state)


def test_every_bad_row_is_listed_with_its_number(admin_client, org):
    rows = [HEADER,
            ["good1", "好一", "good1@example.cn", "研发部", "", ""],
            ["bad1", "坏一", "not-an-email", "研发部", "", ""],
            [],  # a blank row still counts in the numbering
            ["bad2", "坏二", "bad2@example.cn", "不存在", "", ""],
            ["good1", "重复", "x@example.cn", "不存在", "", "老板"]]  # three errors on one row
    state = db_state()
    body = assert_full_page(upload(admin_client, "r.xlsx", xlsx(rows)), 422)
    errors = error_rows(body)
    assert list(errors) == [3, 5, 6]
    assert "不存在" in errors[5]
    # three messages, each its own sentence, separated by a space (not "。；")
    assert len(errors[6].split("。 ")) == 3 and "。；" not in errors[6] and "2" in errors[6] and "不存在" in errors[6] and "老板" in errors[6]
    assert [cells[1] for cells in table(body, "roster-errors")] == ["bad1", "bad2", "good1"]
    assert_nothing_written(state)


def test_deactivated_department_is_a_row_error(admin_client, org, make_department):
    make_department("撤销部", code="GONE", active=False)
    body = assert_full_page(upload(admin_client, "r.csv", csv_bytes(
        _rows_with(["x1", "某人", "x1@example.cn", "GONE", "", ""]))), 422)
    assert list(error_rows(body)) == [3] and "撤销部" in error_rows(body)[3]


def test_overlong_name_is_a_row_error(admin_client, org):
    body = text(upload(admin_client, "r.xlsx", xlsx(_rows_with(["x1", "名" * 101, "x1@example.cn", "研发部", "", ""]))))
    assert list(error_rows(body)) == [3]


# == the status column ==============================================================================
STATUS_HEADER = [*HEADER, "状态"]


def test_status_left_deactivates_and_logs_out(admin_client, admin, org, client_for):
    zhangsan = org["zhangsan"]
    session = client_for(zhangsan)
    assert session.get("/").status_code == 200
    rows = [STATUS_HEADER, ["zhangsan", "张三", "zhangsan@example.cn", "研发部", "工程师", "员工", "离职"]]
    body = text(upload(admin_client, "r.xlsx", xlsx(rows)))
    [update] = table(body, "roster-updates")
    assert update[1] == "zhangsan"
    db.session.refresh(zhangsan)
    assert zhangsan.active is True  # not yet
    admin_client.post(f"{ROSTER}/{pending_id(body)}/apply")
    db.session.refresh(zhangsan)
    assert zhangsan.active is False
    [event] = audit("user.deactivate", zhangsan)
    assert event.actor_id == admin.id
    assert session.get("/").status_code == 302  # logged out

    # 在职 brings the user back
    rows[1][-1] = "在职"
    admin_client.post(f"{ROSTER}/{pending_id(text(upload(admin_client, 'r.xlsx', xlsx(rows))))}/apply")
    db.session.refresh(zhangsan)
    assert zhangsan.active is True and len(audit("user.activate", zhangsan)) == 1


def test_status_left_for_a_new_user_creates_it_deactivated(admin_client, org):
    rows = [STATUS_HEADER, ["gone", "已离职", "gone@example.cn", "研发部", "", "", "离职"]]
    admin_client.post(f"{ROSTER}/{pending_id(text(upload(admin_client, 'r.csv', csv_bytes(rows, 'gb18030'))))}/apply")
    user = user_by_name("gone")
    assert user is not None and user.active is False
    # and a second upload agrees: nothing to change
    body = text(upload(admin_client, "r.csv", csv_bytes(rows, "gb18030")))
    assert preview_alert(body, "info") and "roster-apply" not in body


def test_cannot_deactivate_oneself_by_roster(admin_client, admin, make_user, org):
    make_user("admin2", roles=(ADMIN,))
    rows = [STATUS_HEADER, [admin.username, admin.display_name, admin.email, "研发部", "", "系统管理员", "离职"]]
    state = db_state()
    body = assert_full_page(upload(admin_client, "r.xlsx", xlsx(rows)), 422)
    assert list(error_rows(body)) == [2]
    assert_nothing_written(state)
    db.session.refresh(admin)
    assert admin.active


def test_last_admin_guard(admin_client, admin, make_user, org):
    other = make_user("admin2", roles=(ADMIN,))
    rows = [STATUS_HEADER,
            [admin.username, admin.display_name, admin.email, "研发部", "", "员工", "在职"],  # drops own admin role
            [other.username, other.display_name, other.email, "研发部", "", "系统管理员", "离职"]]
    state = db_state()
    body = assert_full_page(upload(admin_client, "r.xlsx", xlsx(rows)), 422)
    assert preview_alert(body, "danger") and error_rows(body) == {}  # a file-level error
    assert_nothing_written(state)
    db.session.refresh(other)
    db.session.refresh(admin)
    assert other.active and ADMIN in admin.roles


def test_last_admin_cannot_drop_own_role_by_roster(admin_client, admin, org):
    rows = [HEADER, [admin.username, admin.display_name, admin.email, "研发部", "", "员工"]]
    state = db_state()
    body = assert_full_page(upload(admin_client, "r.csv", csv_bytes(rows)), 422)
    assert preview_alert(body, "danger")
    assert_nothing_written(state)


def test_another_admin_may_leave_while_one_remains(admin_client, admin, make_user, org):
    other = make_user("admin2", roles=(ADMIN,))
    rows = [STATUS_HEADER, [other.username, other.display_name, other.email, "研发部", "", "系统管理员", "离职"]]
    admin_client.post(f"{ROSTER}/{pending_id(text(upload(admin_client, 'r.xlsx', xlsx(rows))))}/apply")
    db.session.refresh(other)
    assert other.active is False


# == services refuse non-administrators ============================================================
@pytest.mark.parametrize("role", list(NON_ADMIN_ROLES))
def test_roster_services_refuse_non_admin_actors(app, admin, make_user, org, role):
    actor = make_user(roles=NON_ADMIN_ROLES[role])
    pending = PendingImport(kind="roster", filename="r.xlsx", content=xlsx([HEADER, *ROWS]), sha256="0" * 64, uploaded_by_id=actor.id)
    db.session.add(pending)
    db.session.flush()
    state = db_state()
    with app.test_request_context():
        with pytest.raises(PermissionDenied):
            roster.upload_roster(actor, "r.xlsx", xlsx([HEADER, *ROWS]))
        with pytest.raises(PermissionDenied):
            roster.apply_roster(actor, pending.id)
        with pytest.raises(PermissionDenied):
            roster.get_pending(actor, pending.id)
        with pytest.raises(PermissionDenied):
            roster.upload_roster(None, "r.xlsx", xlsx([HEADER, *ROWS]))
    assert db_state() == state and pending.status == "pending"


def test_roster_services_as_admin(app, admin, org):
    with app.test_request_context():
        with pytest.raises(ServiceError):
            roster.upload_roster(admin, "r.xlsx", b"")
        pending, plan = roster.upload_roster(admin, "r.xlsx", xlsx([HEADER, *ROWS]))
        assert plan.valid and len(plan.creates) == 2 and len(plan.updates) == 1 and plan.unchanged == 1
        applied, plan = roster.apply_roster(admin, pending.id)
        assert applied.status == "applied" and plan is not None
        again, plan = roster.apply_roster(admin, pending.id)
        assert again is applied and plan is None
        with pytest.raises(NotFound):
            roster.apply_roster(admin, 999999)
