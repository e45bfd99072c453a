"""The training matrix (培训矩阵): its cells, filters, who may see which department, a fixed number of queries
whatever the size, the .xlsx export and a person's training record as a PDF."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, PermissionDenied
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Position
from portal.sop.models import Document, DocumentVersion
from portal.training import matrix as tm
from portal.training.models import SessionAttendee, TrainingAssignment, TrainingSession
from portal.workcal.services import local_today
from tests.documents import effective_document, make_effective, next_version
from tests.helpers import HX, assert_full_page, assert_partial, count_queries, sh
from tests.training.helpers import assignments

MATRIX = "/training/matrix"
EXPORT = "/training/matrix/export.xlsx"
#: what an active, logged-in page costs before the matrix's own queries (the login session, the user's roles)
QUERY_GOAL = 10


def _set(document, user, **values) -> None:
    db.session.execute(sa.update(TrainingAssignment).where(
        TrainingAssignment.document_id == document.id, TrainingAssignment.user_id == user.id,
        TrainingAssignment.current.is_(True)).values(**values))


@pytest.fixture
def kf(org, make_user):
    """客服部 with two positions and one person in each state for an effective instruction of its own (no
    process: the owning department trains), a procedure done by all but 孙一, and 周七, who joined after both (no
    assignment); 运营部 trains on an instruction of T-03 (R: 运营部)."""
    dept = org.depts["KF"]
    teller, lead = Position(department_id=dept.id, name="柜员"), Position(department_id=dept.id, name="大堂经理")
    db.session.add_all([teller, lead])
    db.session.flush()
    org.employee.position_id = teller.id  # 客服员工: done
    org.author.position_id = lead.id  # 郑十: overdue
    org.pending = make_user("kf_pending", roles=(EMPLOYEE,), department=dept, display_name="孙一")
    org.pending.position_id = teller.id
    org.waived = make_user("kf_waived", roles=(EMPLOYEE,), department=dept, display_name="李二")
    db.session.flush()
    doc = effective_document(org.author, org, process=None)
    proc = effective_document(org.author, org, process=None, title="投诉升级程序", doc_type="procedure")
    org.yy_doc = effective_document(org.author, org, title="投诉转办规范")
    org.late = make_user("kf_late", roles=(EMPLOYEE,), department=dept, display_name="周七")
    today = local_today()
    _set(doc, org.employee, status="done", completed_at=sh(2026, 5, 1, 10), completed_by="signoff")
    _set(doc, org.author, due_on=today - timedelta(days=3))
    _set(doc, org.waived, status="waived", closed_reason="已持证上岗", closed_at=utcnow())
    _set(doc, org.heads["KF"], status="not_applicable", closed_at=utcnow())
    db.session.execute(sa.update(TrainingAssignment).where(TrainingAssignment.document_id == proc.id,
                                                           TrainingAssignment.user_id != org.pending.id)
                       .values(status="done", completed_at=sh(2026, 6, 2, 9), completed_by="signoff"))
    db.session.commit()
    org.doc, org.proc, org.teller, org.lead = doc, proc, teller, lead
    return org


def cells(markup: str) -> dict[tuple[int, str], tuple[str, str]]:
    """(person id, document code) → (state, the cell's text) from the page."""
    codes = re.findall(r'<th scope="col"[^>]*><a class="link-body-emphasis" href="/quality/documents/\d+" translate="no">([^<]+)</a>', markup)
    out = {}
    for person_id, row in re.findall(r'<tr id="person-(\d+)"[^>]*>(.*?)</tr>', markup, re.S):
        states = re.findall(r'(<td [^>]*data-state="([a-z_]+)"[^>]*>(.*?)</td>)', row, re.S)
        assert len(states) == len(codes)
        for code, (whole, state, body) in zip(codes, states):
            assert 'title="' in whole  # every cell says what it is
            out[(int(person_id), code)] = (state, re.sub(r"<[^>]+>", " ", body).split())
    return out


def rows(markup: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="person-(\d+)"[^>]*>', markup)]


# == cells ================================================================================================
def test_each_state_has_its_cell(kf, client_for):
    markup = assert_full_page(client_for(kf.heads["KF"]).get(MATRIX))
    grid = cells(markup)
    code = kf.doc.code
    assert grid[(kf.employee.id, code)] == ("done", ["✓", "2026-05-01"])
    assert grid[(kf.author.id, code)] == ("overdue", ["!", (local_today() - timedelta(days=3)).isoformat()])
    assert grid[(kf.pending.id, code)][0] == "pending" and grid[(kf.pending.id, code)][1][0] == "○"
    assert grid[(kf.waived.id, code)][0] == "waived"
    assert grid[(kf.heads["KF"].id, code)] == ("not_required", ["—"])  # not applicable
    assert grid[(kf.late.id, code)] == ("not_required", ["—"])  # no assignment at all
    # only pending and overdue cells link, to the assignment's page
    links = dict(re.findall(r'<a class="d-block text-reset text-decoration-none" href="/training/a/(\d+)" title="[^"]+" aria-label="([^"]+)"',
                            markup))
    mine = {a.user_id: a for a in assignments(kf.doc)}
    assert set(links) == {str(mine[kf.author.id].id), str(mine[kf.pending.id].id),
                          str(assignments(kf.proc, user=kf.pending)[0].id)}
    assert "郑十" in links[str(mine[kf.author.id].id)] and kf.doc.code in links[str(mine[kf.author.id].id)]
    # 运营部's people are not rows of 客服部's matrix
    assert kf.other.id not in rows(markup)


def test_the_cell_of_an_assignment():
    today = local_today()
    assert tm.cell_of("open", today, None, today).state == tm.CELL_PENDING
    assert tm.cell_of("open", today - timedelta(days=1), None, today).state == tm.CELL_OVERDUE
    done = tm.Words().dress(tm.cell_of("done", today, sh(2026, 5, 1, 23, 30), today))  # 15:30 UTC
    assert (done.state, done.day, done.mark) == (tm.CELL_DONE, "2026-05-01", "✓")
    assert "2026-05-01" in done.title
    assert tm.cell_of("waived", today, None, today).state == tm.CELL_WAIVED
    assert tm.cell_of("not_applicable", today, None, today, assignment_id=5).href is None


def test_only_effective_documents_of_trained_types_are_columns(kf, client_for):
    from portal.training.services import save_type_setting

    head = client_for(kf.heads["KF"])
    assert {kf.doc.code, kf.proc.code} <= set(code for _p, code in cells(head.get(MATRIX).get_data(as_text=True)))
    save_type_setting(kf.qm, "procedure", enabled=False, due_days=14, require_password=True)
    db.session.execute(sa.update(Document).where(Document.id == kf.doc.id).values(obsolete_at=utcnow()))
    db.session.commit()
    markup = head.get(MATRIX).get_data(as_text=True)
    assert kf.proc.code not in markup and kf.doc.code not in markup
    assert 'id="matrix-empty"' in markup


# == filters ==============================================================================================
def test_filters(kf, client_for):
    head = client_for(kf.heads["KF"])

    def shown(**query):
        markup = assert_partial(head.get(MATRIX, query_string=query, headers=HX))
        grid = cells(markup)
        return set(rows(markup)), {code for _p, code in grid}

    everyone = {kf.heads["KF"].id, kf.employee.id, kf.author.id, kf.pending.id, kf.waived.id, kf.late.id}
    assert shown() == (everyone, {kf.doc.code, kf.proc.code})
    assert shown(position=kf.teller.id) == ({kf.employee.id, kf.pending.id}, {kf.doc.code, kf.proc.code})
    assert shown(type="procedure")[1] == {kf.proc.code}
    assert shown(status="overdue") == ({kf.author.id}, {kf.doc.code})
    assert shown(status="done") == (everyone - {kf.late.id, kf.pending.id}, {kf.doc.code, kf.proc.code})
    assert shown(status="pending") == ({kf.pending.id}, {kf.doc.code, kf.proc.code})
    assert shown(status="waived") == ({kf.waived.id}, {kf.doc.code})
    assert shown(status="not_required") == ({kf.heads["KF"].id, kf.late.id}, {kf.doc.code, kf.proc.code})
    assert shown(status="overdue", position=kf.teller.id) == (set(), set())
    # nonsense is ignored, not an error
    assert shown(status="nonsense", type="x", position="abc") == (everyone, {kf.doc.code, kf.proc.code})


def test_the_summary_counts_the_shown_cells(kf):
    grid = tm.build_matrix(kf.heads["KF"])
    assert grid.counts == {"done": 5, "pending": 2, "overdue": 1, "waived": 1, "not_required": 3}
    grid = tm.build_matrix(kf.heads["KF"], filters=tm.MatrixFilters.parse(kf.lead.id, None, None))
    assert grid.counts == {"done": 1, "pending": 0, "overdue": 1, "waived": 0, "not_required": 0}


# == who sees what ========================================================================================
def test_heads_see_their_own_department_only(kf, client_for):
    kf_head, yy_head = client_for(kf.heads["KF"]), client_for(kf.heads["YY"])
    assert kf.employee.id in rows(assert_full_page(kf_head.get(MATRIX)))
    assert kf_head.get(MATRIX, query_string={"dept": kf.depts["YY"].id}).status_code == 403
    assert yy_head.get(MATRIX, query_string={"dept": kf.depts["KF"].id}).status_code == 403
    markup = assert_full_page(yy_head.get(MATRIX))
    assert kf.other.id in rows(markup) and kf.employee.id not in rows(markup)
    assert 'name="dept" class="form-select' not in markup  # one department: nothing to pick


def test_managers_pick_any_department(kf, client_for, admin):
    for manager in (kf.qm, admin):
        client = client_for(manager)
        markup = assert_full_page(client.get(MATRIX, query_string={"dept": kf.depts["YY"].id}))
        assert kf.other.id in rows(markup)
        assert all(f'<option value="{d.id}"' in markup for d in kf.depts.values())
        assert kf.employee.id in rows(client.get(MATRIX, query_string={"dept": kf.depts["KF"].id})
                                      .get_data(as_text=True))
        assert client.get(MATRIX, query_string={"dept": 987654}).status_code == 404


def test_anyone_else_is_refused(kf, client_for):
    for user in (kf.employee, kf.author, kf.other):
        client = client_for(user)
        assert client.get(MATRIX).status_code == 403
        assert client.get(MATRIX, query_string={"dept": user.department_id}).status_code == 403
        assert client.get(EXPORT).status_code == 403


def test_the_service_checks_too(kf, make_user):
    with pytest.raises(PermissionDenied):
        tm.build_matrix(kf.employee, kf.depts["KF"].id)
    with pytest.raises(PermissionDenied):
        tm.build_matrix(kf.heads["YY"], kf.depts["KF"].id)
    with pytest.raises(PermissionDenied):
        tm.export_xlsx(kf.heads["YY"], kf.depts["KF"].id)
    with pytest.raises(NotFound):
        tm.build_matrix(kf.qm, 987654)
    # the head role without a department to head sees nothing
    with pytest.raises(PermissionDenied):
        tm.build_matrix(make_user("lonely_head", roles=(DEPT_HEAD,)))
    # a head of two departments picks between them
    kf.depts["ZH"].head_id = kf.heads["KF"].id
    db.session.flush()
    grid = tm.build_matrix(kf.heads["KF"], kf.depts["ZH"].id)
    assert [d.code for d in grid.departments] == ["ZH", "KF"] and grid.department.code == "ZH"


# == a fixed number of queries ============================================================================
def _bulk(dept, author, n_people: int, n_documents: int, offset: int) -> None:
    """``n_people`` active users of ``dept`` × ``n_documents`` effective documents, every state present."""
    from portal.org.models import User

    now, today = utcnow(), local_today()
    users = [{"username": f"bulk{offset + i}", "display_name": f"批量{offset + i}", "email": f"b{offset + i}@example.cn",
              "department_id": dept.id, "active": True} for i in range(n_people)]
    user_ids = [db.session.execute(sa.insert(User).values(**u).returning(User.id)).scalar_one() for u in users]
    states = [("done", now), ("open", None), ("waived", None), ("not_applicable", None)]
    for d in range(n_documents):
        doc_id = db.session.execute(sa.insert(Document).values(
            code=f"BULK-{offset + d:04d}", title=f"批量文件{d}", doc_type="instruction", department_id=dept.id,
            created_by_id=author.id).returning(Document.id)).scalar_one()
        version_id = db.session.execute(sa.insert(DocumentVersion).values(
            document_id=doc_id, major=1, minor=0, status="effective", author_id=author.id)
            .returning(DocumentVersion.id)).scalar_one()
        db.session.execute(sa.update(Document).where(Document.id == doc_id).values(current_version_id=version_id))
        db.session.execute(sa.insert(TrainingAssignment), [
            {"user_id": uid, "document_id": doc_id, "version_id": version_id, "current": True,
             "status": states[(i + d) % 4][0], "completed_at": states[(i + d) % 4][1],
             "due_on": today - timedelta(days=(i % 3) - 1)}
            for i, uid in enumerate(user_ids) if (i + d) % 5])
    db.session.commit()


def test_the_page_runs_a_fixed_number_of_queries(org, client_for, make_user, make_department):
    head = make_user("bulk_head", roles=(DEPT_HEAD,), display_name="批量负责人")
    dept = make_department("批量部门", "BULKD", head=head)
    head.department_id = dept.id
    db.session.commit()
    client = client_for(head)

    def queries() -> int:
        with count_queries() as statements:
            response = client.get(MATRIX)
        assert response.status_code == 200
        return len(statements)

    _bulk(dept, org.author, 3, 2, 0)
    client.get(MATRIX)  # warm
    few = queries()
    _bulk(dept, org.author, 60, 40, 100)
    many = queries()
    markup = client.get(MATRIX).get_data(as_text=True)
    assert len(rows(markup)) == 64 and markup.count('data-state="') >= 64 * 42
    assert few == many <= QUERY_GOAL
    with count_queries() as statements:
        client.get(MATRIX, query_string={"status": "overdue", "type": "instruction"}, headers=HX)
    assert len(statements) <= QUERY_GOAL


# == the .xlsx export =====================================================================================
def _workbook(response):
    from openpyxl import load_workbook

    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.get_data()), read_only=True)


def _grid(sheet) -> dict[str, dict[str, str]]:
    """username → {document code: cell}."""
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    codes = values[0][4:]
    return {row[1]: dict(zip(codes, row[4:] + [None] * len(codes))) for row in values[2:]}


def test_managers_export_the_whole_company(kf, client_for):
    response = client_for(kf.qm).get(EXPORT)
    disposition = response.headers["Content-Disposition"]
    assert 'filename="training-matrix-' in disposition and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("UTF-8''")[1]).endswith(f"-{local_today():%Y%m%d}.xlsx")
    book = _workbook(response)
    grid = _grid(book.worksheets[0])
    code = kf.doc.code
    assert grid["emp_t"][code] == "✓ 2026-05-01"
    assert grid["author_kf"][code] == f"! {(local_today() - timedelta(days=3)).isoformat()}"
    assert grid["kf_pending"][code].startswith("○ ")
    assert grid["kf_waived"][code] == str(tm.CELL_MARKS["waived"])
    assert grid["head_kf"][code] is None and grid["kf_late"][code] is None  # not required: an empty cell
    assert grid["emp_yy"][code] is None and grid["emp_yy"][kf.yy_doc.code].startswith("○ ")
    assert grid["emp_zh"][code] is None and grid["qm_t"][code] is None  # everyone active is a row
    first = [list(r) for r in book.worksheets[0].iter_rows(min_row=1, max_row=2, values_only=True)]
    assert first[1][4 + first[0][4:].index(code)] == f"{kf.doc.title} v1.0"
    assert len(book.worksheets) == 2  # and the legend


def test_a_manager_can_export_one_department_and_a_head_exports_their_own(kf, client_for):
    grid = _grid(_workbook(client_for(kf.qm).get(EXPORT, query_string={"dept": kf.depts["YY"].id})).worksheets[0])
    assert "emp_yy" in grid and "emp_t" not in grid
    grid = _grid(_workbook(client_for(kf.heads["KF"]).get(EXPORT)).worksheets[0])
    assert {"emp_t", "author_kf", "kf_late"} <= set(grid) and "emp_yy" not in grid and "emp_zh" not in grid
    assert client_for(kf.heads["KF"]).get(EXPORT, query_string={"dept": kf.depts["YY"].id}).status_code == 403


def test_the_export_writes_names_as_text(kf, client_for):
    kf.late.display_name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    sheet = _workbook(client_for(kf.qm).get(EXPORT)).worksheets[0]
    names = [row[2] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert kf.late.display_name in names


# == 个人培训档案 ==========================================================================================
def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _record(client, user):
    return client.get(f"/training/people/{user.id}/record.pdf")


def test_the_record_is_a_pdf_with_every_assignment_and_session(kf, client_for):
    pytest.importorskip("weasyprint")
    version = next_version(kf.author, kf.doc, "# 客户投诉处理规范\n\n第二版。\n")
    make_effective(kf.author, version)
    session = TrainingSession(topic="投诉处理课堂培训", trainer_id=kf.heads["KF"].id, department_id=kf.depts["KF"].id,
                              starts_at=sh(2026, 6, 3, 9), ends_at=sh(2026, 6, 3, 11), place="三楼会议室",
                              created_by_id=kf.heads["KF"].id)
    session.attendees = [SessionAttendee(user_id=kf.employee.id, attended_at=sh(2026, 6, 3, 9, 5))]
    db.session.add(session)
    db.session.commit()
    response = _record(client_for(kf.employee), kf.employee)
    if response.status_code == 303:
        pytest.skip("this host lacks the PDF libraries")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF-")
    assert f"training-record-{kf.employee.id}.pdf" in response.headers["Content-Disposition"]
    text = _pdf_text(response.get_data()).replace(" ", "")
    assert "客服员工" in text and "emp_t" in text and "柜员" in text
    assert kf.doc.code in text and kf.proc.code in text
    assert "1.0" in text and "1.1" in text or "2.0" in text  # the earlier version and the current one
    assert "2026-05-01" in text  # when 1.0 was done
    assert "投诉处理课堂培训" in text and "三楼会议室" in text


def test_who_may_print_a_record(kf, client_for, admin):
    pytest.importorskip("weasyprint")
    allowed = [kf.employee, kf.heads["KF"], kf.qm, admin]
    for user in allowed:
        assert _record(client_for(user), kf.employee).status_code in (200, 303), user.username
    for user in (kf.heads["YY"], kf.author, kf.other):
        assert _record(client_for(user), kf.employee).status_code == 403, user.username
    assert _record(client_for(kf.qm), type("Nobody", (), {"id": 987654})).status_code == 404
    with pytest.raises(PermissionDenied):
        tm.record_of(kf.heads["YY"], kf.employee.id)


def test_record_lines_say_how_each_was_completed(kf):
    person, lines, sessions = tm.record_of(kf.heads["KF"], kf.waived.id)
    assert person.id == kf.waived.id and sessions == []
    by_code = {line.code: line for line in lines}
    assert by_code[kf.doc.code].how == "已持证上岗" and by_code[kf.doc.code].current
    _person, lines, _sessions = tm.record_of(kf.employee, kf.employee.id)
    assert {line.completed_on for line in lines if line.code == kf.doc.code} == {"2026-05-01"}


def test_only_managers_see_the_company_export_button(kf, client_for):
    assert 'id="export-company"' in client_for(kf.qm).get(MATRIX).get_data(as_text=True)
    markup = client_for(kf.heads["KF"]).get(MATRIX).get_data(as_text=True)
    assert 'id="export-company"' not in markup and 'id="export-mine"' in markup


def test_a_person_with_admin_role_and_no_department_gets_a_default(make_user, matrix_org, client_for):
    admin = make_user("admin_nodept", roles=(ADMIN,))
    assert client_for(admin).get(MATRIX).status_code == 200


def test_deactivated_people_are_not_rows(kf, client_for):
    kf.author.active = False
    db.session.commit()
    head = client_for(kf.heads["KF"])
    assert kf.author.id not in rows(head.get(MATRIX).get_data(as_text=True))
    grid = _grid(_workbook(head.get(EXPORT)).worksheets[0])
    assert "author_kf" not in grid and "emp_t" in grid
    # their record stays printable for the head (it is the record)
    assert tm.record_of(kf.heads["KF"], kf.author.id)[0].id == kf.author.id


def test_an_htmx_request_gets_the_grid_only(kf, client_for):
    markup = assert_partial(client_for(kf.heads["KF"]).get(MATRIX, headers=HX))
    assert markup.lstrip().startswith('<div id="training-matrix">') and "<form" not in markup
