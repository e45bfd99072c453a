"""The audit trail: hash chain, ``flask portal audit-verify``, the viewer and its .xlsx export."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from portal.audit.models import AuditEvent
from portal.audit.registry import action_label
from portal.audit.services import GENESIS, compute_hash, record, snapshot, verify_chain
from portal.extensions import db
from portal.core.roles import ADMIN, QUALITY_MANAGER
from tests.helpers import HX

ROW_ID_RE = re.compile(r"<tr>\s*<td>(\d+)</td>")


def shown_ids(response) -> list[int]:
    return [int(i) for i in ROW_ID_RE.findall(response.get_data(as_text=True))]


def events(**where):
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, column) == value)
    return db.session.scalars(stmt).all()


def verify(runner):
    db.session.expire_all()
    result = runner.invoke(args=["portal", "audit-verify"])
    return result, result.output + (getattr(result, "stderr", "") or "")


@pytest.fixture
def trail(make_user):
    """Five events by a user with a Chinese name, with Chinese in a summary."""
    actor = make_user("auditor", display_name="审计员张三")
    made = [
        record("demo.create", actor, actor=actor, after={"name": "质量手册", "version": 1}),
        record("demo.update", actor, actor=actor, before={"version": 1, "name": "质量手册"},
               after={"version": 2, "name": "质量手册"}),
        record("demo.comment", actor=actor, object_type="document", object_id=42, extra={"text": "请审核第三章"}),
        record("other.thing", actor=None, object_type="system", object_id="cron", ip="192.0.2.7"),
        record("demo.delete", actor, actor=actor, before={"name": "质量手册"}),
    ]
    db.session.flush()
    return actor, made


# -- the chain ------------------------------------------------------------------------------------
def test_every_record_links_to_the_previous_hash(trail):
    rows = events()
    assert len(rows) == 5
    assert rows[0].prev_hash == GENESIS
    for previous, current in zip(rows, rows[1:]):
        assert current.prev_hash == previous.hash
        assert current.id == previous.id + 1
    for row in rows:
        assert row.hash == compute_hash(row, row.prev_hash)
        assert re.fullmatch(r"[0-9a-f]{64}", row.hash)
    assert len({row.hash for row in rows}) == 5


def test_record_fills_in_the_details(trail):
    actor, made = trail
    create, update, comment, system, _delete = events()
    assert (create.actor_id, create.actor_name, create.object_type, create.object_id) == (
        actor.id, "审计员张三", "user", str(actor.id))
    assert create.summary == {"after": {"name": "质量手册", "version": 1}}
    assert update.summary == {"before": {"version": 1}, "after": {"version": 2}}  # only what changed
    assert comment.summary == {"text": "请审核第三章"} and comment.object_id == "42"
    assert system.actor_id is None and system.actor_name == "" and system.ip == "192.0.2.7"
    assert create.created_at.tzinfo is not None


def test_record_in_a_request_takes_the_user_and_ip(client, make_user, login):
    user = make_user()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.4"  # (a session moving to another address is ended)
    login(client, user)
    client.post("/logout")
    event = events(action="auth.logout")[0]
    assert event.actor_id == user.id and event.ip == "198.51.100.4"


def test_summaries_survive_the_round_trip(make_user):
    actor = make_user()
    event = record("demo.types", actor=actor, extra={"when": datetime(2024, 5, 1, tzinfo=timezone.utc),
                                                      "ids": (1, 2), "none": None, "text": "中文"})
    db.session.expire_all()
    stored = db.session.get(AuditEvent, event.id)
    assert stored.summary == {"when": "2024-05-01 00:00:00+00:00", "ids": [1, 2], "none": None, "text": "中文"}
    assert verify_chain().intact


def test_snapshot_turns_datetimes_into_text(make_user):
    user = make_user()
    user.last_login_at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert snapshot(user, ["username", "last_login_at", "missing"]) == {
        "username": user.username, "last_login_at": "2024-01-02T03:04:05+00:00", "missing": None}


# -- audit-verify ---------------------------------------------------------------------------------
def test_verify_on_an_empty_trail(runner):
    result, output = verify(runner)
    assert result.exit_code == 0
    assert "intact" in output and "0 events" in output


def test_verify_reports_intact(runner, trail):
    result, output = verify(runner)
    assert result.exit_code == 0, output
    assert "audit chain intact: 5 events verified" in output


def test_tampered_summary_is_reported(runner, trail):
    third = events()[2]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == third.id).values(summary={"text": "已批准"}))
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"BROKEN at event {third.id}" in output
    assert "content does not match its hash" in output
    assert "2 events verified" in output


def test_tampering_with_raw_sql_text_is_reported(runner, trail):
    """Even an UPDATE typed by hand into psql/sqlite3 (no ORM, no type processing) is found."""
    target = events()[1]
    table = AuditEvent.__table__.name
    db.session.execute(sa.text(f"UPDATE {table} SET actor_name = :name WHERE id = :id"), {"name": "别人", "id": target.id})
    result, output = verify(runner)
    assert result.exit_code == 2 and f"BROKEN at event {target.id}" in output


def test_tampered_row_with_recomputed_hash_breaks_the_next_link(runner, trail):
    rows = events()
    second = rows[1]
    second.summary = {"after": {"version": 99}}
    second.hash = compute_hash(second, second.prev_hash)  # a careful forger fixes the row's own hash ...
    db.session.flush()
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"BROKEN at event {rows[2].id}" in output  # ... but the next row still points at the old one
    assert "prev_hash" in output


def test_deleting_a_middle_row_is_detected(runner, trail):
    rows = events()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == rows[2].id))
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"BROKEN at event {rows[2].id}" in output and "missing" in output


def test_deleting_the_first_row_is_detected(runner, trail):
    rows = events()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == rows[0].id))
    result, output = verify(runner)
    assert result.exit_code == 2 and f"BROKEN at event {rows[0].id}" in output


def test_verify_walks_in_batches(trail):
    assert verify_chain(batch=2).checked == 5
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == events()[4].id).values(action="demo.undelete"))
    db.session.expire_all()
    report = verify_chain(batch=2)
    assert not report.intact and report.broken_id == events()[4].id and report.checked == 4


def test_login_traffic_keeps_the_chain_intact(client, runner, make_user, login):
    user = make_user()
    for password in ("wrong-1", "wrong-2"):
        client.post("/login", data={"username": user.username, "password": password})
    login(client, user)
    client.post("/logout")
    result, output = verify(runner)
    assert result.exit_code == 0, output
    assert [e.action for e in events()] == ["auth.login_failed", "auth.login_failed", "auth.login", "auth.logout"]


# -- the viewer -----------------------------------------------------------------------------------
@pytest.fixture
def viewer(client, make_user, login):
    login(client, make_user("viewer", roles=(QUALITY_MANAGER,), display_name="质量经理"))
    return client


def test_viewer_lists_newest_first(viewer, trail):
    response = viewer.get("/admin/audit/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    ids = shown_ids(response)
    assert ids == sorted(ids, reverse=True) and len(ids) == 6  # the five and the viewer's own login
    assert "审计员张三" in html
    assert "请审核第三章" in html and "质量手册" in html  # summaries readable, not \\u-escaped
    assert "\\u" not in html.split('id="audit-events"')[1]


def test_viewer_page_and_fragment(viewer, trail):
    page = viewer.get("/admin/audit/")
    fragment = viewer.get("/admin/audit/", headers=HX)
    page_html, fragment_html = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert "<html" in page_html and 'name="actor"' in page_html
    assert "<html" not in fragment_html and 'name="actor"' not in fragment_html
    assert fragment_html.lstrip().startswith('<div id="audit-events">')
    assert shown_ids(page) == shown_ids(fragment)
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_filter_by_action_prefix(viewer, trail):
    response = viewer.get("/admin/audit/?action=demo.")
    assert {e.action for e in events() if e.id in shown_ids(response)} == {
        "demo.create", "demo.update", "demo.comment", "demo.delete"}
    exact = viewer.get("/admin/audit/?action=demo.update")
    assert [events(id=i)[0].action for i in shown_ids(exact)] == ["demo.update"]


def test_filter_action_is_not_a_pattern(viewer, trail):
    assert shown_ids(viewer.get("/admin/audit/?action=%25")) == []
    assert shown_ids(viewer.get("/admin/audit/?action=demo_")) == []


def test_filter_by_actor(viewer, trail):
    ids = shown_ids(viewer.get("/admin/audit/?actor=张三"))
    assert len(ids) == 4 and all(events(id=i)[0].actor_name == "审计员张三" for i in ids)
    assert shown_ids(viewer.get("/admin/audit/?actor=nobody")) == []


def test_filter_by_object(viewer, trail):
    ids = shown_ids(viewer.get("/admin/audit/?object_type=document&object_id=42"))
    assert [events(id=i)[0].action for i in ids] == ["demo.comment"]


def test_filter_by_date_range(viewer, trail):
    old, older = events()[0], events()[1]
    # Asia/Shanghai days: 2024-03-10 16:30 UTC is 2024-03-11 00:30 in Shanghai
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == old.id)
                       .values(created_at=datetime(2024, 3, 10, 16, 30, tzinfo=timezone.utc)))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == older.id)
                       .values(created_at=datetime(2024, 3, 10, 15, 30, tzinfo=timezone.utc)))
    assert shown_ids(viewer.get("/admin/audit/?start=2024-03-11&end=2024-03-11")) == [old.id]
    assert shown_ids(viewer.get("/admin/audit/?start=2024-03-10&end=2024-03-10")) == [older.id]
    both = shown_ids(viewer.get("/admin/audit/?start=2024-03-10&end=2024-03-11"))
    assert sorted(both) == sorted([old.id, older.id])
    recent = shown_ids(viewer.get("/admin/audit/?start=2024-03-12"))
    assert old.id not in recent and older.id not in recent and len(recent) == 4
    until = shown_ids(viewer.get("/admin/audit/?end=2024-03-11"))
    assert sorted(until) == sorted([old.id, older.id])


def test_bad_dates_are_ignored(viewer, trail):
    response = viewer.get("/admin/audit/?start=yesterday&end=2024-13-45")
    assert response.status_code == 200 and len(shown_ids(response)) == 6


def test_keyset_pagination(viewer, make_user):
    actor = make_user()
    for n in range(60):
        record("bulk.item", actor=actor, extra={"n": n})
    first = viewer.get("/admin/audit/?action=bulk.")
    first_ids = shown_ids(first)
    assert len(first_ids) == 50
    html = first.get_data(as_text=True)
    match = re.search(r'href="(/admin/audit/\?[^"]*before=(\d+)[^"]*)"', html)
    assert match, "no link to older events"
    assert int(match.group(2)) == first_ids[-1]
    assert "action=bulk." in match.group(1)  # the filter is kept
    second = viewer.get(match.group(1).replace("&amp;", "&"))
    second_ids = shown_ids(second)
    assert len(second_ids) == 10
    assert max(second_ids) < min(first_ids)
    assert set(first_ids) | set(second_ids) == {e.id for e in events(action="bulk.item")}
    assert "before=" not in second.get_data(as_text=True).split('id="audit-events"')[1]  # the last page


def test_before_is_stable_when_new_events_arrive(viewer, make_user):
    actor = make_user()
    for n in range(55):
        record("bulk.item", actor=actor, extra={"n": n})
    first_ids = shown_ids(viewer.get("/admin/audit/?action=bulk."))
    for n in range(5):
        record("bulk.item", actor=actor, extra={"late": n})
    second_ids = shown_ids(viewer.get(f"/admin/audit/?action=bulk.&before={first_ids[-1]}"))
    assert len(second_ids) == 5 and not set(first_ids) & set(second_ids)


def test_viewer_escapes_what_it_shows(app, viewer):
    app.test_client().post("/login", data={"username": "<script>alert(1)</script>", "password": "x"})
    record("demo.html", actor=None, object_type="x", extra={"note": "<img src=x onerror=alert(2)>"})
    html = viewer.get("/admin/audit/?action=auth.login_failed").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    html = viewer.get("/admin/audit/?action=demo.html").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_empty_result(viewer):
    response = viewer.get("/admin/audit/?action=nothing.here")
    assert response.status_code == 200 and shown_ids(response) == []


def test_nul_in_a_filter_is_refused_not_a_server_error(viewer):
    assert viewer.get("/admin/audit/?actor=%00").status_code == 400


# -- export ---------------------------------------------------------------------------------------
def load(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "audit-trail.xlsx" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_export_contains_the_rows_and_chinese_text(viewer, trail):
    rows = load(viewer.get("/admin/audit/export.xlsx"))
    header, body = rows[0], rows[1:]
    assert len(header) == 9
    assert len(body) == 6  # the five and the viewer's login, oldest first
    assert [r[0] for r in body] == sorted(r[0] for r in body)
    by_id = {r[0]: r for r in body}
    stored = {e.id: e for e in events()}
    for event_id, row in by_id.items():
        event = stored[event_id]
        assert row[2] == (event.actor_name or None) and row[3] == action_label(event.action) and row[8] == event.hash
    text = " ".join(str(cell) for row in body for cell in row if cell is not None)
    assert "审计员张三" in text and "质量手册" in text and "请审核第三章" in text
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", body[0][1])


def test_export_applies_the_filters(viewer, trail):
    rows = load(viewer.get("/admin/audit/export.xlsx?action=demo.&actor=张三"))
    assert {r[3] for r in rows[1:]} == {"demo.create", "demo.update", "demo.comment", "demo.delete"}


def test_export_time_is_shanghai_time(viewer, trail):
    first = events()[0]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == first.id)
                       .values(created_at=datetime(2024, 3, 10, 16, 30, 5, tzinfo=timezone.utc)))
    rows = load(viewer.get("/admin/audit/export.xlsx"))
    assert next(r for r in rows[1:] if r[0] == first.id)[1] == "2024-03-11 00:30:05"


def test_export_never_turns_text_into_formulas(app, viewer):
    """A username typed at the login form ends up in the trail: it must stay text in Excel."""
    hostile = '=hyperlink("http://evil.example","x")'
    app.test_client().post("/login", data={"username": hostile, "password": "x"})
    record("demo.formula", actor=None, object_type="+cmd", object_id="@SUM(1+1)", extra={"v": "-2+3"})
    response = viewer.get("/admin/audit/export.xlsx")
    workbook = load_workbook(io.BytesIO(response.data))
    cells = [cell for row in workbook.worksheets[0].iter_rows() for cell in row]
    formulas = [cell.value for cell in cells if cell.data_type == "f"]
    assert not formulas, formulas
    values = {cell.value for cell in cells}
    assert hostile in values  # kept as the very text that was typed
    assert "@SUM(1+1)" in values and "+cmd" in values


@pytest.mark.parametrize("roles", [(ADMIN,), (QUALITY_MANAGER,)])
def test_export_is_allowed_for_both_roles(client, make_user, login, roles):
    login(client, make_user(roles=roles))
    rows = load(client.get("/admin/audit/export.xlsx"))
    assert rows[0][0]  # a header even when there is only the login
