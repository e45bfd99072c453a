"""The CAPA pages: the list per role and department, the new-CAPA form (by hand, from a ticket, from a missed
objective; a double submit opens one), the CAPA page's forms (root cause, actions, the check, the signed closure)
and who may use them — a head of another department gets 404 on everything of a CAPA, an employee cannot close,
an action's owner completes their own action only."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.capa import services
from portal.capa.models import CHECKING, CLOSED, FROM_OBJECTIVE, FROM_TICKET, OPEN, Capa, CapaAction
from portal.esign.models import Signature
from portal.extensions import db
from portal.objectives.models import GE, MANUAL, MONTH, Measurement, Objective
from tests.capa.helpers import give_ratings
from tests.helpers import DEFAULT_PASSWORD, HX, audit, count, text, translated
from tests.triage.helpers import rate

IMPLEMENTED = date(2026, 3, 2)


def _effectiveness(app, key: str) -> str:
    """The result's words as the page shows them."""
    from portal.capa.models import EFFECTIVENESS_LABELS

    with app.test_request_context("/"):
        return str(EFFECTIVENESS_LABELS[key])


def _capa(org, dept: str = "KF", **fields) -> Capa:
    values = dict(title=f"{dept} 窗口等候时间过长", problem="差评集中在等候时间", department_id=org.depts[dept].id,
                  service_point_id=(org.point if dept == "KF" else org.yy_point).id)
    values.update(fields)
    capa = services.open_capa(org.heads[dept], services.CapaFields(**values))
    db.session.commit()
    return capa


def _action(org, capa, owner, dept: str = "KF", days: int = 5) -> CapaAction:
    action = services.add_action(org.heads[dept], capa.id, description=f"措施 {owner.username}", owner_id=owner.id,
                                 due_on=services.local_today() + timedelta(days=days))
    db.session.commit()
    return action




def _checked(org, before: list[int], after: list[int]) -> Capa:
    """A KF CAPA whose only action is done, implemented on IMPLEMENTED, checked on the ratings given."""
    give_ratings(org.point, date(2026, 2, 10), before)
    give_ratings(org.point, date(2026, 3, 10), after)
    capa = _capa(org)
    action = _action(org, capa, org.kf_member)
    services.complete_action(org.kf_member, action.id, "已完成")
    capa.implemented_on, capa.check_due_on = IMPLEMENTED, IMPLEMENTED + timedelta(days=30)
    services.run_check(capa, today=date(2026, 4, 1))
    db.session.commit()
    return capa


# -- the list -------------------------------------------------------------------------------------
def _listed(markup: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/capa/(\d+)"', markup)}


def test_the_list_shows_each_role_what_it_may_see(org, client_for):
    kf, yy = _capa(org), _capa(org, "YY")
    _action(org, kf, org.yy_member)  # a YY member owns an action of KF's CAPA
    assert _listed(text(client_for(org.qm).get("/capa/"))) == {kf.id, yy.id}
    assert _listed(text(client_for(org.heads["KF"]).get("/capa/"))) == {kf.id}
    assert _listed(text(client_for(org.heads["YY"]).get("/capa/"))) == {yy.id}
    assert _listed(text(client_for(org.kf_member).get("/capa/"))) == {kf.id}
    yy_member = client_for(org.yy_member)
    assert _listed(text(yy_member.get("/capa/"))) == {kf.id, yy.id}
    assert _listed(text(yy_member.get("/capa/?mine=1"))) == {kf.id}
    assert _listed(text(client_for(org.heads["ZH"]).get("/capa/"))) == set()
    qm = client_for(org.qm)
    partial = qm.get(f"/capa/?department={org.depts['YY'].id}", headers=HX)
    assert partial.status_code == 200 and text(partial).lstrip().startswith('<div id="capa-list">')
    assert _listed(text(partial)) == {yy.id}
    assert _listed(text(qm.get("/capa/?status=closed"))) == set()
    assert _listed(text(qm.get("/capa/?status=open"))) == {kf.id, yy.id}


# -- isolation ------------------------------------------------------------------------------------
def _posts(capa: Capa, action: CapaAction) -> dict[str, dict]:
    return {
        f"/capa/{capa.id}/root-cause": {"rc-why1": "偷改", "rc-cause_category": "man"},
        f"/capa/{capa.id}/actions": {"act-description": "偷加", "act-owner_id": "1",
                                     "act-due_on": services.local_today().isoformat()},
        f"/capa/{capa.id}/actions/{action.id}/done": {"done-note": "偷办"},
        f"/capa/{capa.id}/check": {},
        f"/capa/{capa.id}/close": {"close-password": DEFAULT_PASSWORD},
    }


def test_a_head_of_another_department_gets_404_on_every_route_of_a_capa(org, client_for):
    capa = _capa(org)
    action = _action(org, capa, org.kf_member)
    for user in (org.heads["YY"], org.yy_member):
        client = client_for(user)
        assert client.get(f"/capa/{capa.id}").status_code == 404
        assert client.get(f"/capa/{capa.id}", headers=HX).status_code == 404
        for url, data in _posts(capa, action).items():
            assert client.post(url, data=data).status_code == 404, url
            assert client.post(url, data=data, headers=HX).status_code == 404, url
    db.session.refresh(capa)
    assert capa.whys == [] and len(capa.actions) == 1 and capa.actions[0].status == "open"
    assert not audit("capa.root_cause") and len(audit("capa.action_add")) == 1


def test_an_action_of_another_capa_is_404_under_this_one(org, client_for):
    kf, other = _capa(org), _capa(org, title="另一项")
    action = _action(org, other, org.kf_member)
    _action(org, kf, org.kf_member)
    response = client_for(org.kf_member).post(f"/capa/{kf.id}/actions/{action.id}/done", data={"done-note": "x"})
    assert response.status_code == 404
    assert db.session.get(CapaAction, action.id).status == "open"


def test_an_employee_reads_their_departments_capa_but_cannot_change_or_close_it(org, client_for):
    capa = _capa(org)
    _action(org, capa, org.heads["KF"])
    client = client_for(org.kf_member)
    page = text(client.get(f"/capa/{capa.id}"))
    assert capa.title in page and 'id="capa-close-form"' not in page and 'id="capa-root-form"' not in page
    assert client.post(f"/capa/{capa.id}/close", data={"close-password": DEFAULT_PASSWORD}).status_code == 403
    root = {"rc-why1": "x", "rc-cause_category": "man"}
    assert client.post(f"/capa/{capa.id}/root-cause", data=root).status_code == 403
    assert client.post(f"/capa/{capa.id}/actions", data={
        "act-description": "x", "act-owner_id": str(org.kf_member.id),
        "act-due_on": services.local_today().isoformat()}).status_code == 403
    # a head is no quality manager either
    assert client_for(org.heads["KF"]).post(f"/capa/{capa.id}/close",
                                            data={"close-password": DEFAULT_PASSWORD}).status_code == 403
    assert db.session.get(Capa, capa.id).status == OPEN


def test_an_owner_completes_their_own_action_only(org, client_for):
    capa = _capa(org)
    mine = _action(org, capa, org.yy_member)
    theirs = _action(org, capa, org.kf_member)
    client = client_for(org.yy_member)
    page = text(client.get(f"/capa/{capa.id}"))
    assert f'action="/capa/{capa.id}/actions/{mine.id}/done"' in page
    assert f'action="/capa/{capa.id}/actions/{theirs.id}/done"' not in page
    assert client.post(f"/capa/{capa.id}/actions/{theirs.id}/done", data={"done-note": "x"}).status_code == 403
    response = client.post(f"/capa/{capa.id}/actions/{mine.id}/done", data={"done-note": "已调整排班"}, headers=HX)
    assert response.status_code == 200 and "已调整排班" in text(response)
    assert db.session.get(CapaAction, mine.id).status == "done"
    assert db.session.get(CapaAction, theirs.id).status == "open"
    # the head (an editor) may complete anyone's
    assert client_for(org.heads["KF"]).post(f"/capa/{capa.id}/actions/{theirs.id}/done",
                                            data={"done-note": ""}).status_code == 303
    assert db.session.get(Capa, capa.id).status == CHECKING


# -- the new-CAPA form ----------------------------------------------------------------------------
def test_a_double_submit_of_the_new_form_opens_one_capa(org, client_for):
    client = client_for(org.heads["KF"])
    page = text(client.get("/capa/new"))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {"request_key": key, "title": "叫号系统故障", "department_id": str(org.depts["KF"].id),
            "problem": "叫号系统上午宕机两小时", "containment": "人工叫号"}
    first, second = client.post("/capa/new", data=data), client.post("/capa/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Capa) == 1 and len(audit("capa.open")) == 1


def test_the_new_form_refuses_bad_input_in_chinese_and_a_foreign_department(org, client_for, app):
    client = client_for(org.heads["KF"])
    response = client.post("/capa/new", data={"request_key": "k1", "title": "", "problem": "",
                                              "department_id": str(org.depts["KF"].id)}, headers=HX)
    assert response.status_code == 422
    assert translated(app, "Give the corrective action a title.") in text(response)
    assert client.post("/capa/new", data={"request_key": "k2", "title": "t", "problem": "p",
                                          "department_id": str(org.depts["YY"].id)}).status_code == 403
    assert client_for(org.kf_member).get("/capa/new").status_code == 403
    assert count(Capa) == 0


def test_opening_from_a_ticket_prefills_links_back_and_happens_once(org, client_for):
    ticket = rate(org.point, 1, comment="排队一个小时没人管")
    db.session.commit()
    assert client_for(org.heads["YY"]).get(f"/capa/new?source=ticket&source_id={ticket.id}").status_code == 404
    client = client_for(org.heads["KF"])
    ticket_page = text(client.get(f"/queue/{ticket.id}"))
    assert f'href="/capa/new?source=ticket&amp;source_id={ticket.id}"' in ticket_page
    form = text(client.get(f"/capa/new?source=ticket&source_id={ticket.id}"))
    assert "排队一个小时没人管" in form and f'href="/queue/{ticket.id}"' in form
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/capa/new", data={
        "request_key": key, "source": "ticket", "source_id": str(ticket.id), "title": "差评整改",
        "problem": "排队一个小时没人管", "department_id": str(org.depts["YY"].id)})  # the source's department wins
    assert response.status_code == 303
    capa = db.session.scalar(sa.select(Capa))
    assert (capa.source, capa.source_id, capa.department_id, capa.service_point_id) == (
        FROM_TICKET, ticket.id, org.depts["KF"].id, org.point.id)
    assert f'href="/queue/{ticket.id}"' in text(client.get(f"/capa/{capa.id}"))
    # the ticket's page now links the CAPA; opening again goes to it
    assert f'href="/capa/{capa.id}"' in text(client.get(f"/queue/{ticket.id}"))
    again = client.get(f"/capa/new?source=ticket&source_id={ticket.id}")
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/capa/{capa.id}")
    # the department's employee sees no offer on the ticket
    assert "/capa/new" not in text(client_for(org.kf_member).get(f"/queue/{ticket.id}"))
    assert count(Capa) == 1


def test_a_missed_objective_period_offers_a_capa_and_it_keeps_the_source(org, client_for):
    objective = Objective(name="客服满意度", department_id=org.depts["KF"].id, target=Decimal("95"), direction=GE,
                          period=MONTH, tolerance_percent=Decimal("5"), unit="%", data_source=MANUAL)
    db.session.add(objective)
    db.session.flush()
    missed = Measurement(objective_id=objective.id, period_start=date(2026, 10, 1), value=Decimal("80"))
    met = Measurement(objective_id=objective.id, period_start=date(2026, 9, 1), value=Decimal("97"))
    db.session.add_all([missed, met])
    db.session.commit()
    client = client_for(org.heads["KF"])
    page = text(client.get(f"/quality/objectives/{objective.id}"))
    link = f'/capa/new?source=objective&amp;source_id={missed.id}'
    assert link in page and f"source_id={met.id}" not in page
    assert client.get(f"/capa/new?source=objective&source_id={met.id}").status_code == 404  # not missed
    assert client_for(org.heads["YY"]).get(f"/capa/new?source=objective&source_id={missed.id}").status_code == 404
    form = text(client.get(f"/capa/new?source=objective&source_id={missed.id}"))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', form).group(1)
    title = re.search(r'name="title" [^>]*value="([^"]+)"', form).group(1)
    assert "客服满意度" in title
    response = client.post("/capa/new", data={"request_key": key, "source": "objective", "source_id": str(missed.id),
                                              "title": title, "problem": "十月满意度 80%"})
    assert response.status_code == 303
    capa = db.session.scalar(sa.select(Capa))
    assert (capa.source, capa.source_id, capa.department_id) == (FROM_OBJECTIVE, missed.id, org.depts["KF"].id)
    assert f'href="/capa/{capa.id}"' in text(client.get(f"/quality/objectives/{objective.id}"))


# -- the CAPA page's forms ------------------------------------------------------------------------
def test_the_root_cause_form_saves_up_to_five_whys_and_the_category(org, client_for, app):
    capa = _capa(org)
    client = client_for(org.heads["KF"])
    response = client.post(f"/capa/{capa.id}/root-cause", data={"rc-why1": "等候长"}, headers=HX)
    assert response.status_code == 422 and translated(app, "Choose the kind of root cause.") in text(response)
    response = client.post(f"/capa/{capa.id}/root-cause", data={
        "rc-why1": "等候长", "rc-why2": "窗口少", "rc-why3": "排班未按客流", "rc-cause_category": "method"}, headers=HX)
    assert response.status_code == 200
    db.session.refresh(capa)
    assert capa.whys == ["等候长", "窗口少", "排班未按客流"] and capa.cause_category == "method"
    assert 'value="排班未按客流"' in text(response)


def test_adding_an_action_and_the_overdue_badge(org, client_for, app):
    capa = _capa(org)
    client = client_for(org.heads["KF"])
    past = (services.local_today() - timedelta(days=1)).isoformat()
    response = client.post(f"/capa/{capa.id}/actions", data={
        "act-description": "调整排班", "act-owner_id": str(org.kf_member.id), "act-due_on": past}, headers=HX)
    assert response.status_code == 422 and translated(app, "Choose a due date from today on.") in text(response)
    response = client.post(f"/capa/{capa.id}/actions", data={
        "act-description": "调整排班", "act-owner_id": str(org.kf_member.id),
        "act-due_on": services.local_today().isoformat()})
    assert response.status_code == 303
    action = db.session.scalar(sa.select(CapaAction))
    assert (action.owner_id, action.description) == (org.kf_member.id, "调整排班")
    assert translated(app, "Overdue") not in text(client.get(f"/capa/{capa.id}"))
    action.due_on = services.local_today() - timedelta(days=2)
    db.session.commit()
    page = text(client.get(f"/capa/{capa.id}"))
    assert f'<span class="badge text-bg-danger">{translated(app, "Overdue")}</span>' in page
    assert re.search(r"#%d</td>.*?text-bg-danger" % capa.id, text(client.get("/capa/")), re.S)


def test_the_page_shows_the_csat_before_and_after_of_the_hand_computed_fixture(org, client_for, app):
    # 30 days before 03-02: ten ratings, 4 of them 4–5 → 40.0 %; from 03-02: eight, 6 of them 4–5 → 75.0 %.
    capa = _checked(org, [5, 4, 2, 1, 3, 4, 2, 5, 2, 3], [5, 5, 4, 4, 2, 5, 3, 4])
    page = text(client_for(org.kf_member).get(f"/capa/{capa.id}"))
    before = re.search(r'<tr id="csat-before">(.*?)</tr>', page, re.S).group(1)
    after = re.search(r'<tr id="csat-after">(.*?)</tr>', page, re.S).group(1)
    assert "2026-01-31 – 2026-03-01" in before and "<td>40.0%</td><td>10</td>" in before
    assert "2026-03-02 – 2026-03-31" in after and "<td>75.0%</td><td>8</td>" in after
    effectiveness = re.search(r'id="capa-effectiveness">([^<]+)<', page).group(1)
    assert effectiveness == _effectiveness(app, "effective") == "有效"


def test_too_few_ratings_shows_insufficient_and_the_capa_cannot_close(org, client_for, app):
    capa = _checked(org, [5, 4], [5, 5, 5])
    client = client_for(org.qm)
    page = text(client.get(f"/capa/{capa.id}"))
    assert re.search(r'id="capa-effectiveness">([^<]+)<', page).group(1) == _effectiveness(app, "insufficient")
    response = client.post(f"/capa/{capa.id}/close", data={"close-password": DEFAULT_PASSWORD}, headers=HX)
    assert response.status_code == 422
    assert translated(app, "The effectiveness check has no result yet: the corrective action cannot close.") \
        in text(response)
    assert db.session.get(Capa, capa.id).status == CHECKING


def test_closing_with_an_open_action_is_refused_on_the_page(org, client_for, app):
    capa = _capa(org)
    _action(org, capa, org.kf_member)
    response = client_for(org.qm).post(f"/capa/{capa.id}/close", data={"close-password": DEFAULT_PASSWORD})
    assert response.status_code == 422
    assert translated(app, "Every action must be done before the corrective action closes.") in text(response)
    assert db.session.get(Capa, capa.id).status == OPEN and count(Signature) == 0


def test_the_quality_manager_closes_with_the_password_and_a_wrong_one_closes_nothing(org, client_for, app):
    capa = _checked(org, [4, 4, 4, 4, 4], [5, 5, 5, 5, 5])
    client = client_for(org.qm)
    page = text(client.get(f"/capa/{capa.id}"))
    meaning = translated(app, "Closed a corrective action (关闭纠正预防措施)")
    assert 'id="capa-close-form"' in page and meaning in page
    wrong = client.post(f"/capa/{capa.id}/close", data={"close-password": "wrong-password"}, headers=HX)
    assert wrong.status_code == 422
    assert db.session.get(Capa, capa.id).status == CHECKING and count(Signature) == 0
    response = client.post(f"/capa/{capa.id}/close", data={"close-password": DEFAULT_PASSWORD}, headers=HX)
    assert response.status_code == 200
    capa = db.session.get(Capa, capa.id)
    assert capa.status == CLOSED and capa.closed_by_id == org.qm.id
    signature = db.session.get(Signature, capa.close_signature_id)
    assert signature.meaning == "capa_close" and signature.signer_id == org.qm.id
    assert 'id="capa-signature"' in text(response) and meaning in text(response)
    assert 'id="capa-close-form"' not in text(response)


def test_a_due_check_can_be_run_from_the_page_by_an_editor(org, client_for, app):
    give_ratings(org.point, date(2026, 2, 10), [4, 4, 4, 4, 4])
    capa = _capa(org)
    action = _action(org, capa, org.kf_member)
    services.complete_action(org.kf_member, action.id)
    capa.implemented_on, capa.check_due_on = IMPLEMENTED, IMPLEMENTED + timedelta(days=30)
    db.session.commit()
    assert client_for(org.kf_member).post(f"/capa/{capa.id}/check").status_code == 403
    response = client_for(org.heads["KF"]).post(f"/capa/{capa.id}/check", headers=HX)
    assert response.status_code == 200
    capa = db.session.get(Capa, capa.id)
    assert capa.effectiveness == "insufficient" and (capa.ratings_before, capa.ratings_after) == (5, 0)


def test_an_incident_offers_a_capa_to_its_head_and_then_links_it(org, client_for):
    from portal.capa import sources
    from portal.triage import incidents

    for n in range(3):
        rate(org.point, 1, comment=f"系统故障 {n}")
    db.session.commit()
    incident = incidents.open_incidents(org.qm)[0]
    offer = sources.incident_panel(incident, org.heads["KF"])
    assert offer == {"capa": None, "open_url": f"/capa/new?source=incident&source_id={incident.id}"}
    assert sources.incident_panel(incident, org.heads["YY"]) is None
    assert sources.incident_panel(incident, org.kf_member) is None
    assert client_for(org.heads["YY"]).get(offer["open_url"]).status_code == 404
    client = client_for(org.heads["KF"])
    form = text(client.get(offer["open_url"]))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', form).group(1)
    assert client.post("/capa/new", data={"request_key": key, "source": "incident", "source_id": str(incident.id),
                                          "title": "系统故障集中差评", "problem": "三条差评"}).status_code == 303
    capa = db.session.scalar(sa.select(Capa))
    assert (capa.source, capa.source_id, capa.service_point_id) == ("incident", incident.id, org.point.id)
    assert sources.incident_panel(incident, org.kf_member) == {"capa": capa}  # a member may see it, not open one
