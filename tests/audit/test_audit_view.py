"""The audit trail as an inspector reads it (issue 8, item 6): labels for every recorded action, object names
with links, changes as 字段：旧值 → 新值, labelled filters, the same words in the export, per role."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from portal.audit.present import present
from portal.audit.registry import action_label, action_labels, object_types
from portal.audit.services import record, search_events
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER, ROLE_LABELS
from portal.extensions import db
from portal.policy.models import STATUS_LABELS
from tests.helpers import HX, assert_full_page, assert_partial, count_queries, plain_text, text

PORTAL = Path(__file__).resolve().parents[2] / "portal"
#: record("a.b", …), record("a.b" if x else "a.c", …), across line breaks
RECORD_RE = re.compile(r'\brecord\(\s*"([a-z_]+\.[a-z_]+)"(?:\s+if\s+[^"]+?\s+else\s+"([a-z_]+\.[a-z_]+)")?')


def recorded_actions_in_the_code() -> set[str]:
    found: set[str] = set()
    for path in PORTAL.rglob("*.py"):
        for match in RECORD_RE.finditer(path.read_text(encoding="utf-8")):
            found.update(code for code in match.groups() if code)
    return found


def test_the_scan_finds_the_actions():
    actions = recorded_actions_in_the_code()
    assert {"auth.login", "policy.approve", "department.deactivate", "webhook.create", "user.create"} <= actions
    assert len(actions) >= 50


def test_every_recorded_action_has_a_label(app):
    missing = sorted(code for code in recorded_actions_in_the_code() if code not in action_labels)
    assert not missing, f"actions recorded without a label (register them in the domain's hooks): {missing}"
    with app.test_request_context():
        for code in recorded_actions_in_the_code():
            assert action_label(code) != code and str(action_label(code)).strip()


def test_object_types_that_domains_record_are_registered(app):
    for key in ("user", "department", "position", "process", "quality_policy", "quality_objective",
                "quality_objective_measurement", "raci_cell", "calendar_override", "webhook"):
        assert key in object_types, key
    for key in ("user", "department", "position", "process", "quality_policy", "quality_objective"):
        assert object_types.get(key).resolve is not None, key


# -- per role, plain and htmx -------------------------------------------------------------------------
@pytest.mark.parametrize("role", [ADMIN, QUALITY_MANAGER])
@pytest.mark.parametrize("hx", [False, True])
def test_admin_and_quality_manager_read_the_trail(client, make_user, login, role, hx):
    login(client, make_user(roles=(role,)))
    response = client.get("/admin/audit/", headers=HX if hx else {})
    if hx:
        html = assert_partial(response)
        assert html.lstrip().startswith('<div id="audit-events">')
    else:
        html = assert_full_page(response)
        assert 'name="action"' in html
    assert str(action_label("auth.login")) in html


@pytest.mark.parametrize("role", [DEPT_HEAD, EMPLOYEE])
@pytest.mark.parametrize("path", ["/admin/audit/", "/admin/audit/export.xlsx"])
@pytest.mark.parametrize("hx", [False, True])
def test_other_roles_are_refused(client, make_user, login, role, path, hx):
    login(client, make_user(roles=(role,)))
    assert client.get(path, headers=HX if hx else {}).status_code == 403


# -- what it reads like ---------------------------------------------------------------------------------
@pytest.fixture
def manager(client, make_user, login):
    user = make_user("inspector", roles=(QUALITY_MANAGER,), display_name="检查员王五")
    login(client, user)
    return client


def test_an_edit_reads_as_field_old_and_new(app, manager, make_department, make_user):
    dept = make_department(name="客服部")
    head = make_user(display_name="部长赵六")
    record("department.update", dept, before={"name": "客服一部", "head_id": None}, after={"name": "客服部", "head_id": head.id})
    html = text(manager.get("/admin/audit/?action=department."))
    with app.test_request_context():
        label, name_field, head_field = (str(action_label("department.update")),
                                         str(object_types.get("department").fields["name"]),
                                         str(object_types.get("department").fields["head_id"]))
    body = html.split('id="audit-events"')[1]
    assert label in body and "department.update</" not in body
    # the department's page is for administrators: a quality manager reads the name without a link
    assert "客服部" in body and f'href="/admin/org/departments/{dept.id}"' not in body
    flat = re.sub(r"：\s+", "：", plain_text(body))
    assert f"{name_field}：客服一部 → 客服部" in flat
    assert f"{head_field}：— → 部长赵六" in flat  # an id shown as the person's name
    assert '{"' not in body  # no raw JSON


def test_statuses_and_roles_read_through_their_labels(app, manager, make_user):
    user = make_user(display_name="新同事")
    record("user.update", user, before={"roles": ["employee"]}, after={"roles": ["employee", "quality_manager"]})
    record("policy.approve", object_type="quality_policy", object_id=999, before={"status": "draft"},
           after={"status": "approved"})
    body = plain_text(text(manager.get("/admin/audit/")).split('id="audit-events"')[1])
    with app.test_request_context():
        assert f"{STATUS_LABELS['draft']} → {STATUS_LABELS['approved']}" in body
        assert f"{ROLE_LABELS['employee']}、{ROLE_LABELS['quality_manager']}" in body
        assert str(object_types.get("quality_policy").label) in body


def test_a_missing_object_still_shows_its_id(manager):
    record("process.update", object_type="process", object_id=424242, before={"name": "旧"}, after={"name": "新"})
    body = text(manager.get("/admin/audit/?action=process.")).split('id="audit-events"')[1]
    assert "424242" in body and "/quality/processes/424242" not in body


def test_the_action_filter_lists_labels(app, manager, make_user):
    record("user.password_reset", make_user())
    html = text(manager.get("/admin/audit/"))
    select = html.split('name="action"')[1].split("</select>")[0]
    with app.test_request_context():
        assert f'<option value="user.password_reset">{action_label("user.password_reset")}</option>' in select
    assert ">auth.login<" not in select


def test_names_cost_a_fixed_number_of_queries(manager, make_department):
    def page_queries(n: int) -> int:
        for _ in range(n):
            dept = make_department()
            record("department.update", dept, before={"parent_id": None}, after={"parent_id": make_department().id})
        db.session.flush()
        with count_queries() as statements:
            assert manager.get("/admin/audit/?action=department.").status_code == 200
        return len(statements)

    assert page_queries(2) == page_queries(20)


def test_present_resolves_each_type_once(app, make_department, make_user):
    for _ in range(5):
        record("department.update", make_department(), before={"head_id": None}, after={"head_id": make_user().id})
    events = search_events({"action": "department."})
    with app.test_request_context(), count_queries() as statements:
        views = present(events)
    assert len(views) == 5 and all(v.object_url for v in views)
    assert len(statements) == 2  # departments, users


def test_the_export_carries_the_same_words(app, manager, make_department):
    dept = make_department(name="质量部")
    record("department.update", dept, before={"name": "品管部"}, after={"name": "质量部"})
    response = manager.get("/admin/audit/export.xlsx?action=department.")
    rows = [list(r) for r in load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True)]
    [row] = rows[1:]
    with app.test_request_context():
        assert row[3] == str(action_label("department.update"))
        assert row[4] == str(object_types.get("department").label)
        assert row[5] == "质量部"
        assert row[6].startswith(str(object_types.get("department").fields["name"]))
    assert "品管部 → 质量部" in row[6] and "{" not in row[6]


# -- on a phone and with hostile dates --------------------------------------------------------------------
def test_the_table_scrolls_inside_its_own_container(manager):
    html = text(manager.get("/admin/audit/", headers=HX))
    assert re.search(r'<div class="table-responsive[^"]*">\s*<table', html)
    page = text(manager.get("/admin/audit/"))
    # every filter is full width on a phone (col-12 or half of it), never a fixed md-only column
    form = page.split('<form class="row g-2 mb-3 audit-filters"')[1].split("</form>")[0]
    assert all(re.search(r"\bcol-(12|[468])\b", cls) for cls in re.findall(r'<div class="(col[^"]*)"', form))
    assert 'type="date" name="start" min="1900-01-01" max="2199-12-31"' in form


@pytest.mark.parametrize("query", ["start=0001-01-01", "end=9999-12-31", "start=%C2%B2024-01-01",
                                   "start=2024-01-01&end=99999-01-01"])
@pytest.mark.parametrize("path", ["/admin/audit/", "/admin/audit/export.xlsx"])
def test_dates_out_of_range_do_not_overflow(manager, path, query):
    assert manager.get(f"{path}?{query}").status_code == 200


def test_shared_details_read_as_words(app, manager, make_user):
    """"via", a signature's meaning and a user id in the details read as words, not codes."""
    from portal.audit.registry import common_fields, common_values
    from portal.esign.services import MEANINGS

    someone = make_user(display_name="签收人孙七")
    record("department.create", object_type="department", object_id=1, after={"name": "x"}, extra={"via": "seed-demo"})
    record("esign.sign", object_type="signature", object_id=1,
           extra={"meaning": "approve", "object_type": "quality_policy", "object_id": "3"})
    record("policy.acknowledge", object_type="quality_policy", object_id=3, extra={"user_id": someone.id})
    body = re.sub(r"：\s+", "：", plain_text(text(manager.get("/admin/audit/")).split('id="audit-events"')[1]))
    with app.test_request_context():
        assert f"{common_fields.get('via')}：{common_values.get('via')['seed-demo']}" in body
        assert str(MEANINGS["approve"]) in body and str(object_types.get("quality_policy").label) in body
        assert "签收人孙七" in body
    assert "seed-demo" not in body and "approve<" not in body


def test_administrators_get_links_to_the_objects(client, make_user, login, make_department):
    login(client, make_user(roles=(ADMIN,)))
    dept = make_department(name="财务部")
    record("department.update", dept, before={"name": "财务室"}, after={"name": "财务部"})
    record("process.update", object_type="process", object_id=1, before={"name": "a"}, after={"name": "b"})
    body = text(client.get("/admin/audit/", headers=HX))
    assert f'<a href="/admin/org/departments/{dept.id}">财务部</a>' in body


def test_quality_managers_get_links_to_pages_they_may_open(manager, make_user):
    from portal.processes.models import Process

    process = Process(code="P-AUD", name="审核过程")
    db.session.add(process)
    db.session.flush()
    record("process.update", process, before={"name": "审核"}, after={"name": "审核过程"})
    body = text(manager.get("/admin/audit/", headers=HX))
    assert f'href="/quality/processes/{process.id}/edit">P-AUD 审核过程</a>' in body
