"""The incidents' pages (a burst of 差评 handled as one) and the queues' settings (SLA policies, routing rules):
isolation per department (a foreign incident is 404 on every route, changing nothing), managers only on the
settings (403 for employees and heads), the actions applied to every open ticket with their audit events, double
submits changing nothing, a saved policy giving new tickets new deadlines, a rule routing new feedback."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import incidents, services
from portal.triage.models import BY_CATEGORY, RESOLVED, Incident, RoutingRule, SlaPolicy, Ticket, TicketEvent
from portal.triage.registry import incident_panels, register_incident_panel
from portal.workcal import clock
from portal.workcal.services import WorkCalendar, default_working_hours
from tests.helpers import HX, audit, count, field_has_error, flashes, plain, text, translated
from tests.triage.helpers import point, rate


@pytest.fixture
def bursts(org):
    """Three 差评 at a 客服部 point (one with consented contact: its call-back is required) and three at a 运营部
    point: one incident in each queue."""
    kf, yy = point(org, "KF51", "KF"), point(org, "YY51", "YY")
    kf_tickets = [rate(kf, 1, comment="等太久"), rate(kf, 2, contact="13800138000", consent=True), rate(kf, 1)]
    yy_tickets = [rate(yy, 1) for _ in range(3)]
    db.session.commit()
    kf_incident, yy_incident = kf_tickets[0].incident_id, yy_tickets[0].incident_id
    assert kf_incident and yy_incident and kf_incident != yy_incident
    return dict(org=org, kf=kf, yy=yy, kf_tickets=kf_tickets, yy_tickets=yy_tickets,
                kf_incident=kf_incident, yy_incident=yy_incident)


def _tickets(ids) -> list[Ticket]:
    db.session.expire_all()
    return [db.session.get(Ticket, i) for i in ids]


# -- the pages ------------------------------------------------------------------------------------
def test_the_incidents_page_lists_the_readers_queues_only(bursts, client_for):
    org = bursts["org"]
    page = client_for(org.heads["KF"]).get("/queue/incidents")
    body = text(page)
    assert page.status_code == 200
    assert f'href="/queue/incidents/{bursts["kf_incident"]}"' in body
    assert f'href="/queue/incidents/{bursts["yy_incident"]}"' not in body
    qm = client_for(org.qm).get("/queue/incidents", headers=HX)
    assert qm.status_code == 200 and "<html" not in text(qm)
    assert f'/queue/incidents/{bursts["yy_incident"]}"' in text(qm)
    # The queue page links to the incidents; only managers see the settings' links.
    queue_page = text(client_for(org.heads["KF"]).get("/queue/"))
    assert 'href="/queue/incidents"' in queue_page and "/queue/settings/sla" not in queue_page
    assert 'href="/queue/settings/routing"' in text(client_for(org.qm).get("/queue/"))


def test_the_incident_page_shows_the_point_the_span_and_the_tickets(bursts, client_for):
    org, incident_id = bursts["org"], bursts["kf_incident"]
    member = client_for(org.kf_member)
    for headers in ({}, HX):
        page = member.get(f"/queue/incidents/{incident_id}", headers=headers)
        assert page.status_code == 200
        body = text(page)
        assert "KF51 KF51 窗口" in body
        for ticket in bursts["kf_tickets"]:
            assert f'href="/queue/{ticket.id}"' in body
        assert 'hx-post="/queue/incidents/%d/close"' % incident_id in body
    # Each ticket's page links back to its incident (a ticket panel).
    ticket_page = text(member.get(f"/queue/{bursts['kf_tickets'][0].id}"))
    assert f'href="/queue/incidents/{incident_id}"' in ticket_page
    lone = rate(bursts["kf"], 5)
    db.session.commit()
    assert "/queue/incidents/" not in text(member.get(f"/queue/{lone.id}"))


def test_incident_panels_are_rendered_on_the_incident_page(bursts, client_for):
    seen = []

    def context(incident, user):
        seen.append((incident.id, user.id))
        return {"incident": incident}

    register_incident_panel("test.panel", "triage/_partials/_incident_link.html", context)
    try:
        body = text(client_for(bursts["org"].heads["KF"]).get(f"/queue/incidents/{bursts['kf_incident']}"))
    finally:
        incident_panels.unregister("test.panel")
    assert seen == [(bursts["kf_incident"], bursts["org"].heads["KF"].id)]
    assert 'id="ticket-incident"' in body


# -- isolation ------------------------------------------------------------------------------------
def _incident_posts(incident_id: int, assignee_id: int) -> dict[str, dict]:
    return {
        f"/queue/incidents/{incident_id}/assign": {"ia-assignee_id": str(assignee_id)},
        f"/queue/incidents/{incident_id}/note": {"in-text": "偷看", "in-request_key": "k-iso-note"},
        f"/queue/incidents/{incident_id}/reply": {"ir-text": "偷答", "ir-request_key": "k-iso-reply"},
        f"/queue/incidents/{incident_id}/close": {"ic-note": "关掉别人的"},
    }


def test_another_departments_incident_is_404_on_every_route(bursts, client_for, app):
    org, foreign = bursts["org"], bursts["yy_incident"]
    kf_head, kf_member = client_for(org.heads["KF"]), client_for(org.kf_member)
    before = (count(TicketEvent), len(audit()))
    for headers in ({}, HX):
        assert kf_head.get(f"/queue/incidents/{foreign}", headers=headers).status_code == 404
        for url, data in _incident_posts(foreign, org.kf_member.id).items():
            assert kf_head.post(url, data=data, headers=headers).status_code == 404, url
        assert kf_member.get(f"/queue/incidents/{foreign}", headers=headers).status_code == 404
    assert kf_head.get("/queue/incidents/999999").status_code == 404
    # A foreign person smuggled into an own incident's assignment is refused, changing nothing.
    own = kf_head.post(f"/queue/incidents/{bursts['kf_incident']}/assign", headers=HX,
                       data={"ia-assignee_id": str(org.yy_member.id)})
    assert own.status_code == 422 and field_has_error(text(own), "ia-assignee_id")
    assert (count(TicketEvent), len(audit())) == before
    tickets = _tickets(t.id for t in bursts["yy_tickets"] + bursts["kf_tickets"])
    assert {t.status for t in tickets} == {"new"} and {t.assignee_id for t in tickets} == {None}
    assert db.session.get(Incident, foreign).closed_at is None
    # Every route of this module was tried here or in the settings' tests below.
    rules = {r.rule for r in app.url_map.iter_rules()
             if app.view_functions[r.endpoint].__module__ == "portal.triage.admin_views"}
    tried = {re.sub(r"/\d+", "/<int:incident_id>", u) for u in _incident_posts(1, 1)} | {
        "/queue/incidents", "/queue/incidents/<int:incident_id>"} | set(SETTINGS_ROUTES)
    assert rules == tried, rules ^ tried


def test_a_member_may_take_the_incident_but_not_give_it_to_others(bursts, client_for):
    org, incident_id = bursts["org"], bursts["kf_incident"]
    colleague = client_for(org.employee)  # also of 客服部
    refused = colleague.post(f"/queue/incidents/{incident_id}/assign", data={"ia-assignee_id": str(org.kf_member.id)})
    assert refused.status_code == 403
    taken = colleague.post(f"/queue/incidents/{incident_id}/assign", data={"ia-assignee_id": str(org.employee.id)})
    assert taken.status_code in (302, 303)
    assert {t.assignee_id for t in _tickets(t.id for t in bursts["kf_tickets"])} == {org.employee.id}


# -- handling the incident as one ----------------------------------------------------------------
def test_the_actions_apply_to_every_open_ticket_with_their_audit_events(bursts, client_for, app):
    org, incident_id = bursts["org"], bursts["kf_incident"]
    ids = [t.id for t in bursts["kf_tickets"]]
    head = client_for(org.heads["KF"])
    response = head.post(f"/queue/incidents/{incident_id}/assign", data={"ia-assignee_id": str(org.kf_member.id)})
    assert response.status_code in (302, 303)
    assert {t.assignee_id for t in _tickets(ids)} == {org.kf_member.id}
    assert sorted(int(e.object_id) for e in audit("triage.assign")) == sorted(ids)
    assert audit("triage.incident_assign")[-1].summary["tickets"] == ids

    member = client_for(org.kf_member)
    note = member.post(f"/queue/incidents/{incident_id}/note", headers=HX,
                       data={"in-text": "系统故障，统一处理", "in-request_key": "k-note-1"})
    assert note.status_code == 200 and 'id="incident-detail"' in text(note)
    notes = db.session.scalars(sa.select(TicketEvent).where(TicketEvent.kind == "note")).all()
    assert sorted(e.ticket_id for e in notes) == sorted(ids) and {e.body for e in notes} == {"系统故障，统一处理"}
    assert len(audit("triage.note")) == 3 and len(audit("triage.incident_note")) == 1

    reply = member.post(f"/queue/incidents/{incident_id}/reply",
                        data={"ir-text": "抱歉，叫号系统已修复。", "ir-request_key": "k-reply-1"})
    assert reply.status_code in (302, 303)
    assert {t.feedback.reply for t in _tickets(ids)} == {"抱歉，叫号系统已修复。"}
    assert len(audit("triage.reply")) == 3 and len(audit("triage.incident_reply")) == 1

    # Resolving: the 差评 with consented contact still needs its call-back, so it stays open and is named.
    closing = member.post(f"/queue/incidents/{incident_id}/close", data={"ic-note": "叫号系统已修复"},
                          follow_redirects=True)
    body = text(closing)
    assert [t.status for t in _tickets(ids)] == [RESOLVED, "new", RESOLVED]
    assert any(cat == "warning" and f"#{ids[1]}" in message for cat, message in flashes(body))
    assert translated(app, "The call-back (回访) is not recorded yet.") in body
    assert db.session.get(Incident, incident_id).closed_at is None
    assert {t.feedback.resolved_at is not None for t in _tickets([ids[0], ids[2]])} == {True}
    services.record_callback(org.kf_member, ids[1], called_at=utcnow(), outcome="reached", note="已致歉")
    db.session.commit()
    member.post(f"/queue/incidents/{incident_id}/close", data={"ic-note": "回访完成"})
    assert {t.status for t in _tickets(ids)} == {RESOLVED}
    assert db.session.get(Incident, incident_id).closed_at is not None
    assert [e.summary["tickets"] for e in audit("triage.incident_resolve")] == [[ids[0], ids[2]]]
    assert [e.summary["tickets"] for e in audit("triage.incident_close")] == [[ids[1]]]
    history = plain(text(member.get(f"/queue/incidents/{incident_id}")))
    assert "回访完成" in history and "叫号系统已修复" in history
    # The other department's incident was untouched.
    assert {t.status for t in _tickets(t.id for t in bursts["yy_tickets"])} == {"new"}


def test_a_double_submit_changes_nothing_twice(bursts, client_for):
    org, incident_id = bursts["org"], bursts["kf_incident"]
    head = client_for(org.heads["KF"])
    for _ in range(2):
        head.post(f"/queue/incidents/{incident_id}/note", data={"in-text": "一次", "in-request_key": "k-twice"})
        head.post(f"/queue/incidents/{incident_id}/reply", data={"ir-text": "一次", "ir-request_key": "k-twice-r"})
        head.post(f"/queue/incidents/{incident_id}/assign", data={"ia-assignee_id": str(org.kf_member.id)})
    assert count(TicketEvent, TicketEvent.kind == "note") == 3
    assert count(TicketEvent, TicketEvent.kind == "reply") == 3
    assert count(TicketEvent, TicketEvent.kind == "assign") == 3
    assert [len(audit(a)) for a in ("triage.incident_note", "triage.incident_reply", "triage.incident_assign")] \
        == [1, 1, 1]
    # Closing twice: once the call-back is in, one close; the second changes nothing.
    services.record_callback(org.kf_member, bursts["kf_tickets"][1].id, called_at=utcnow(), outcome="reached",
                             note="")
    db.session.commit()
    for _ in range(2):
        assert head.post(f"/queue/incidents/{incident_id}/close", data={}).status_code in (302, 303)
    assert len(audit("triage.incident_close")) == 1 and len(audit("triage.status")) == 3


def test_a_ticket_moved_to_another_queue_leaves_its_incident(bursts, client_for):
    org, incident_id = bursts["org"], bursts["kf_incident"]
    moved = bursts["kf_tickets"][2]
    response = client_for(org.heads["KF"]).post(f"/queue/{moved.id}/reassign", data={
        "re-department_id": str(org.depts["YY"].id), "re-reason": "其实是运营的问题"})
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(Ticket, moved.id).incident_id is None
    incident = db.session.get(Incident, incident_id)
    assert incident.count == 2 and incident.last_at == bursts["kf_tickets"][1].received_at
    assert audit("triage.incident_leave")[-1].summary["tickets"] == [moved.id]
    # The incident's actions no longer reach it; its new queue sees no foreign incident on it.
    assert [t.id for t in incidents.open_tickets(org.heads["KF"], incident)] == [t.id for t in bursts["kf_tickets"][:2]]
    assert "/queue/incidents/" not in text(client_for(org.heads["YY"]).get(f"/queue/{moved.id}"))
    # The last tickets leaving close the incident.
    for ticket in bursts["kf_tickets"][:2]:
        services.reassign(org.heads["KF"], ticket.id, org.depts["YY"].id, "移交")
    db.session.expire_all()
    assert db.session.get(Incident, incident_id).closed_at is not None


# -- settings: who ---------------------------------------------------------------------------------
SETTINGS_ROUTES = {"/queue/settings/sla": "GET", "/queue/settings/sla/<priority>": "POST",
                   "/queue/settings/routing": "GET POST", "/queue/settings/routing/<int:rule_id>/delete": "POST"}


def test_the_settings_are_for_managers_only(org, client_for, admin):
    rule = RoutingRule(category="收费", department_id=org.depts["YY"].id, created_by_id=org.qm.id)
    db.session.add(rule)
    db.session.commit()
    def changes() -> int:
        return len([e for e in audit() if not e.action.startswith("auth.")])

    before = changes()
    for user in (org.employee, org.kf_member, org.heads["KF"]):
        client = client_for(user)
        for headers in ({}, HX):
            assert client.get("/queue/settings/sla", headers=headers).status_code == 403
            assert client.get("/queue/settings/routing", headers=headers).status_code == 403
            assert client.post("/queue/settings/sla/high", headers=headers, data={
                "high-first_response_minutes": "1", "high-resolution_minutes": "2", "high-warn_at": "50"}
            ).status_code == 403
            assert client.post("/queue/settings/routing", headers=headers, data={
                "category": "服务态度", "department_id": str(org.depts["KF"].id)}).status_code == 403
            assert client.post(f"/queue/settings/routing/{rule.id}/delete", headers=headers).status_code == 403
    assert changes() == before and count(SlaPolicy) == 0 and count(RoutingRule) == 1
    for user in (org.qm, admin):
        client = client_for(user)
        for headers in ({}, HX):
            assert client.get("/queue/settings/sla", headers=headers).status_code == 200
            assert client.get("/queue/settings/routing", headers=headers).status_code == 200
    assert client_for(org.qm).post("/queue/settings/sla/urgent", data={}).status_code == 404
    # The calendar link is for administrators, who may open the calendar.
    assert 'href="/admin/calendar/"' in text(client_for(admin).get("/queue/settings/sla"))
    assert 'href="/admin/calendar/"' not in text(client_for(org.qm).get("/queue/settings/sla"))


# -- SLA policies ---------------------------------------------------------------------------------
def test_a_saved_policy_gives_new_tickets_new_deadlines(org, client_for, app):
    kf = point(org, "KF52", "KF")
    before = rate(kf, 1)
    qm = client_for(org.qm)
    page = text(qm.get("/queue/settings/sla"))
    assert 'value="60"' in page and 'value="480"' in page  # the high priority's defaults
    saved = qm.post("/queue/settings/sla/high", data={
        "high-first_response_minutes": "30", "high-resolution_minutes": "120", "high-warn_at": "50，80"})
    assert saved.status_code in (302, 303)
    row = db.session.get(SlaPolicy, "high")
    assert (row.first_response_minutes, row.resolution_minutes, row.warn_at) == (30, 120, [50, 80])
    event = audit("triage.sla_policy")[-1]
    assert event.summary["after"]["resolution_minutes"] == 120 and event.summary["before"]["resolution_minutes"] == 480
    after = rate(kf, 2)
    calendar, hours = WorkCalendar(), default_working_hours()
    assert after.first_response_due_at == clock.due_at(after.received_at, 30, (), hours, calendar)
    assert after.resolution_due_at == clock.due_at(after.received_at, 120, (), hours, calendar)
    assert before.resolution_due_at == clock.due_at(before.received_at, 480, (), hours, calendar)
    assert after.resolution_due_at < before.resolution_due_at
    assert "2 h 0 min" in text(qm.get("/queue/settings/sla")) or "2 小时" in text(qm.get("/queue/settings/sla"))


@pytest.mark.parametrize("fields, bad", [
    ({"first_response_minutes": "abc", "resolution_minutes": "120", "warn_at": "50"}, "first_response_minutes"),
    ({"first_response_minutes": "0", "resolution_minutes": "120", "warn_at": "50"}, "first_response_minutes"),
    ({"first_response_minutes": "60", "resolution_minutes": "30", "warn_at": "50"}, "resolution_minutes"),
    ({"first_response_minutes": "60", "resolution_minutes": "120", "warn_at": "五十"}, "warn_at"),
    ({"first_response_minutes": "60", "resolution_minutes": "120", "warn_at": "50, 150"}, "warn_at"),
    ({"first_response_minutes": "60", "resolution_minutes": "999999", "warn_at": "50"}, "resolution_minutes"),
])
def test_bad_targets_are_refused_in_chinese(org, client_for, fields, bad):
    qm = client_for(org.qm)
    response = qm.post("/queue/settings/sla/normal", data={f"normal-{k}": v for k, v in fields.items()})
    body = text(response)
    assert response.status_code == 422 and field_has_error(body, f"normal-{bad}")
    errors = re.findall(r'<div class="invalid-feedback d-block">([^<]+)</div>', body)
    assert errors and all(re.search(r"[\u4e00-\u9fff]", e) for e in errors), errors
    assert count(SlaPolicy) == 0 and not audit("triage.sla_policy")


# -- routing rules --------------------------------------------------------------------------------
def test_a_routing_rule_routes_new_feedback_until_it_is_deleted(org, client_for):
    kf = point(org, "KF53", "KF")
    qm = client_for(org.qm)
    page = text(qm.get("/queue/settings/routing"))
    assert '<option value="收费">收费</option>' in page
    for _ in range(2):  # a double submit adds one rule
        response = qm.post("/queue/settings/routing", data={"category": "收费",
                                                            "department_id": str(org.depts["YY"].id)})
        assert response.status_code in (302, 303)
    assert count(RoutingRule) == 1 and len(audit("triage.routing_rule_add")) == 1
    ticket = rate(kf, 3, categories=["收费"])
    assert (ticket.department_id, ticket.routed_by) == (org.depts["YY"].id, BY_CATEGORY)
    assert rate(kf, 3, categories=["服务态度"]).department_id == org.depts["KF"].id
    assert "收费" in plain(text(qm.get("/queue/settings/routing")))
    # Another department for the same category is refused; so are unknown categories and inactive departments.
    refused = qm.post("/queue/settings/routing", data={"category": "收费", "department_id": str(org.depts["KF"].id)})
    assert refused.status_code == 422 and field_has_error(text(refused), "category")
    assert qm.post("/queue/settings/routing", data={"category": "不存在的类别",
                                                    "department_id": str(org.depts["KF"].id)}).status_code == 422
    org.depts["ZH"].active = False
    db.session.commit()
    inactive = qm.post("/queue/settings/routing", data={"category": "服务态度",
                                                        "department_id": str(org.depts["ZH"].id)})
    assert inactive.status_code == 422 and field_has_error(text(inactive), "department_id")
    assert count(RoutingRule) == 1
    rule_id = db.session.scalar(sa.select(RoutingRule.id))
    for _ in range(2):  # deleting twice: the second changes nothing
        assert qm.post(f"/queue/settings/routing/{rule_id}/delete").status_code in (302, 303)
    assert count(RoutingRule) == 0
    deleted = audit("triage.routing_rule_delete")
    assert len(deleted) == 1 and deleted[0].summary["before"]["category"] == "收费"
    assert rate(kf, 3, categories=["收费"]).department_id == org.depts["KF"].id


def test_the_routing_page_shows_the_points_the_matrix_routes_elsewhere(org, client_for):
    point(org, "KF54", "KF", process="T-03")  # 客户投诉处理: R is 运营部, the point is 客服部's
    body = plain(text(client_for(org.qm).get("/queue/settings/routing")))
    assert "KF54 KF54 窗口: 客服部 → 运营部" in body
