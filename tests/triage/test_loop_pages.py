"""The 差评 loop's pages: the panel on a 差评's page (deadline, rectification with evidence uploads, appeals, the
appeal form), the evidence download, the quality manager's 申诉复核 page with its signed decisions, the appeal
rates — per role and per department (a head of department A gets 404 for anything of B's; only a quality manager
decides; employees see no rates)."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from portal.esign.models import Signature
from portal.extensions import db
from portal.triage import loop
from portal.triage.models import (APPEAL_PENDING, APPEAL_UPHELD, MALICIOUS, MISTAKEN, Appeal, Ticket, TicketEvent,
                                  TicketFile)
from tests.helpers import DEFAULT_PASSWORD, HX, assert_full_page, assert_partial, audit, count, plain, reloaded, \
    text, translated
from tests.triage.helpers import point, rate
from tests.triage.test_loop import PDF, png

#: The loop's routes that are not a ticket's (tests/triage/test_queue.py tries every ticket route for isolation).
NOT_PER_TICKET = {"/queue/evidence/<int:file_id>/download", "/queue/appeals", "/queue/appeals/<int:appeal_id>/decide",
                  "/queue/appeals/rates"}
FAKE = b"MZ\x90\x00" * 20  # an executable named .png


@pytest.fixture
def loop_org(org):
    org.kf_bad = rate(point(org, "KF51", "KF"), 1, comment="态度差")
    org.kf_good = rate(point(org, "KF52", "KF"), 5)
    org.yy_bad = rate(point(org, "YY51", "YY"), 2, comment="等太久")
    db.session.commit()
    return org


def _files(*named) -> list:
    return [(io.BytesIO(data), name) for name, data in named]


def _key(markup: str, prefix: str) -> str:
    return re.search(rf'name="{prefix}-request_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="{prefix}-request_key"',
                     markup).group(1)


def _rectify(client, ticket_id: int, note: str, files=(), key: str = "k-rect", headers=None):
    return client.post(f"/queue/{ticket_id}/rectify", data={"rect-note": note, "rect-request_key": key,
                                                            "rect-files": _files(*files)},
                       content_type="multipart/form-data", headers=headers or {})


def _appeal(client, ticket_id: int, reason: str = "同一号码连续差评", grounds: str = MALICIOUS, files=(),
            key: str = "k-appeal", headers=None):
    return client.post(f"/queue/{ticket_id}/appeal", data={"appeal-grounds": grounds, "appeal-reason": reason,
                                                           "appeal-request_key": key,
                                                           "appeal-files": _files(*files)},
                       content_type="multipart/form-data", headers=headers or {})


def _decide(client, appeal_id: int, decision: str = "uphold", note: str = "监控证实", password=DEFAULT_PASSWORD,
            headers=None):
    return client.post(f"/queue/appeals/{appeal_id}/decide",
                       data={f"ap{appeal_id}-decision": decision, f"ap{appeal_id}-note": note,
                             f"ap{appeal_id}-password": password}, headers=headers or {})


# -- the panel --------------------------------------------------------------------------------------
@pytest.mark.parametrize("hx", [False, True])
def test_the_panel_shows_on_a_negative_ticket_as_page_and_side_panel(app, loop_org, client_for, hx):
    org, ticket = loop_org, loop_org.kf_bad
    head = client_for(org.heads["KF"])
    response = head.get(f"/queue/{ticket.id}", headers=HX if hx else {})
    body = assert_partial(response) if hx else assert_full_page(response)
    assert f'id="negative-loop-{ticket.id}"' in body
    assert ticket.rectification_due_on.isoformat() in body
    assert translated(app, "Not rectified yet") in body
    assert 'hx-encoding="multipart/form-data"' in body and 'hx-target="#ticket-detail"' in body
    assert f'action="/queue/{ticket.id}/rectify"' in body and f'action="/queue/{ticket.id}/appeal"' in body
    # a member works the ticket (rectifies) but does not appeal; a rating of 5 has no panel at all
    member_page = text(client_for(org.kf_member).get(f"/queue/{ticket.id}", headers=HX if hx else {}))
    assert f'action="/queue/{ticket.id}/rectify"' in member_page
    assert f'action="/queue/{ticket.id}/appeal"' not in member_page
    assert 'id="negative-loop-' not in text(head.get(f"/queue/{org.kf_good.id}", headers=HX if hx else {}))


def test_an_overdue_rectification_shows_its_badge(app, loop_org, client_for):
    ticket = loop_org.kf_bad
    ticket.rectification_due_on = ticket.rectification_due_on.replace(year=2020)
    db.session.commit()
    body = text(client_for(loop_org.heads["KF"]).get(f"/queue/{ticket.id}"))
    assert f'<span class="badge text-bg-danger">{translated(app, "Overdue")}</span>' in body


# -- rectification and evidence ------------------------------------------------------------------------
def test_rectification_via_the_page_with_real_files_and_their_download(app, loop_org, client_for):
    org, ticket = loop_org, loop_org.kf_bad
    member = client_for(org.kf_member)
    key = _key(text(member.get(f"/queue/{ticket.id}")), "rect")
    picture = png()
    response = _rectify(member, ticket.id, "已对窗口人员培训", [("现场照片.png", picture), ("整改记录.pdf", PDF)],
                        key=key, headers=HX)
    body = assert_partial(response)
    assert "已对窗口人员培训" in body and "现场照片.png" in body and "整改记录.pdf" in body
    assert translated(app, "Rectification recorded.") in body
    # a double click (the same form again) records nothing more
    assert _rectify(member, ticket.id, "已对窗口人员培训", [("现场照片.png", picture)], key=key,
                    headers=HX).status_code == 200
    files = list(db.session.scalars(sa.select(TicketFile).where(TicketFile.ticket_id == ticket.id)
                                    .order_by(TicketFile.id)))
    assert [(f.display_name, f.mime_type) for f in files] == [("现场照片.png", "image/png"),
                                                              ("整改记录.pdf", "application/pdf")]
    assert count(TicketEvent, TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "rectify") == 1
    assert reloaded(ticket).rectified_at is not None and len(audit("triage.rectify")) == 1
    # the download: the same bytes, as an attachment, with the stored type
    for row, data in zip(files, (picture, PDF)):
        download = member.get(f"/queue/evidence/{row.id}/download")
        assert download.status_code == 200 and download.get_data() == data
        assert download.mimetype == row.mime_type
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    # the ticket's page lists the files with their links; the history tells of the rectification
    page = text(member.get(f"/queue/{ticket.id}"))
    assert f'href="/queue/evidence/{files[0].id}/download"' in page and translated(app, "Rectification") in page
    # without htmx: back to the ticket's page
    plain_post = _rectify(member, ticket.id, "再次整改", key="k-rect-2")
    assert plain_post.status_code == 303 and plain_post.headers["Location"].endswith(f"/queue/{ticket.id}")
    assert reloaded(ticket).rectification_note == "再次整改"


@pytest.mark.parametrize("hx", [False, True])
def test_a_fake_file_is_refused_with_a_chinese_error_and_nothing_is_stored(app, loop_org, client_for, hx):
    org, ticket = loop_org, loop_org.kf_bad
    member = client_for(org.kf_member)
    before_events = count(TicketEvent)
    response = _rectify(member, ticket.id, "整改", [("现场.png", png()), ("证据.png", FAKE)],
                        headers=HX if hx else {})
    assert response.status_code == 422
    body = text(response)
    with app.test_request_context("/"):
        expected = str(loop.content._not_a_scan("files").errors[0][1])
    assert re.search(r"[\u4e00-\u9fff]", expected)
    assert expected in plain(body)
    assert count(TicketFile) == 0 and count(TicketEvent) == before_events
    assert reloaded(ticket).rectified_at is None and not audit("triage.rectify")
    # an empty note is refused too, in Chinese
    empty = _rectify(member, ticket.id, "  ", headers=HX if hx else {})
    assert empty.status_code == 422 and translated(app, "Describe the rectification.") in text(empty)


# -- isolation ------------------------------------------------------------------------------------------
def test_another_departments_head_gets_404_for_everything_of_the_loop(app, loop_org, client_for):
    org, foreign = loop_org, loop_org.yy_bad
    loop.record_rectification(org.yy_member, foreign.id, "运营整改", uploads=[("记录.pdf", PDF)])
    appeal = loop.file_appeal(org.heads["YY"], foreign.id, grounds=MISTAKEN, reason="客户选错")
    db.session.commit()
    evidence = db.session.scalar(sa.select(TicketFile.id).where(TicketFile.ticket_id == foreign.id))
    def triage_events():
        return [e.action for e in audit() if e.action.startswith(("triage.", "esign."))]

    before = (count(TicketFile), count(TicketEvent), count(Appeal), triage_events())
    for user in (org.heads["KF"], org.kf_member):
        client = client_for(user)
        for headers in ({}, HX):
            assert client.get(f"/queue/{foreign.id}", headers=headers).status_code == 404
            assert _rectify(client, foreign.id, "偷改", [("a.png", png())], key="k-x",
                            headers=headers).status_code == 404
            assert _appeal(client, foreign.id, key="k-y", headers=headers).status_code == 404
            assert client.get(f"/queue/evidence/{evidence}/download", headers=headers).status_code == 404
            # nobody but a quality manager decides (403 before the appeal is even looked up)
            assert _decide(client, appeal.id, headers=headers).status_code == 403
    assert client_for(org.kf_member).get("/queue/evidence/999999/download").status_code == 404
    assert (count(TicketFile), count(TicketEvent), count(Appeal), triage_events()) == before
    assert reloaded(appeal).status == APPEAL_PENDING


def test_who_sees_the_review_and_the_rates(app, loop_org, client_for, admin):
    org = loop_org
    for user, review, rates in ((org.employee, 403, 403), (org.kf_member, 403, 403), (org.heads["KF"], 403, 200),
                                (admin, 403, 200), (org.qm, 200, 200)):
        client = client_for(user)
        for headers in ({}, HX):
            assert client.get("/queue/appeals", headers=headers).status_code == review, user.username
            assert client.get("/queue/appeals/rates", headers=headers).status_code == rates, user.username
        nav = text(client.get("/"))
        assert ('href="/queue/appeals"' in nav) == (review == 200), user.username


def test_a_member_may_not_appeal(app, loop_org, client_for):
    org, ticket = loop_org, loop_org.kf_bad
    response = _appeal(client_for(org.kf_member), ticket.id)
    assert response.status_code == 403 and count(Appeal) == 0


# -- appeals --------------------------------------------------------------------------------------------
def test_an_appeal_filed_then_upheld_through_the_pages(app, loop_org, client_for):
    org, ticket = loop_org, loop_org.kf_bad
    head = client_for(org.heads["KF"])
    key = _key(text(head.get(f"/queue/{ticket.id}", headers=HX)), "appeal")
    shot = png()
    response = _appeal(head, ticket.id, "一小时内同一号码三次差评", files=[("监控截图.png", shot)], key=key,
                       headers=HX)
    body = assert_partial(response)
    assert translated(app, "Appeal pending") in body and "一小时内同一号码三次差评" in body
    # the double click files nothing more; a fresh form is told that one is waiting
    assert _appeal(head, ticket.id, key=key, headers=HX).status_code == 200
    again = _appeal(head, ticket.id, key="k-another", headers=HX)
    assert again.status_code == 422
    assert translated(app, "An appeal against this rating is already waiting for a decision.") in text(again)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.ticket_id == ticket.id))
    assert count(Appeal) == 1 and appeal.status == APPEAL_PENDING
    assert f'action="/queue/{ticket.id}/appeal"' not in body  # no second form while one waits

    qm = client_for(org.qm)
    review = assert_full_page(qm.get("/queue/appeals"))
    evidence = db.session.scalar(sa.select(TicketFile).where(TicketFile.appeal_id == appeal.id))
    assert f'id="appeal-{appeal.id}"' in review and org.depts["KF"].name in review
    assert "一小时内同一号码三次差评" in review and f'href="/queue/evidence/{evidence.id}/download"' in review
    assert translated(app, "Meaning of the signature: %(meaning)s",
                      meaning=translated(app, "Appeal decision (申诉复核)")) in review
    assert qm.get(f"/queue/evidence/{evidence.id}/download").get_data() == shot
    assert re.search(r'id="pending-appeals">1<', review)

    # a wrong password: a clear Chinese error, nothing decided
    wrong = _decide(qm, appeal.id, password="not-my-password", headers=HX)
    assert wrong.status_code == 422
    wrong_body = text(wrong)
    assert translated(app, "The password is wrong: the signature was not applied.") in wrong_body
    assert re.search(r"[\u4e00-\u9fff]", translated(app, "The password is wrong: the signature was not applied."))
    assert reloaded(appeal).status == APPEAL_PENDING and count(Signature) == 0 and audit("esign.failed")
    # a missing decision is refused by the form
    assert _decide(qm, appeal.id, decision="", headers=HX).status_code == 422

    decided = _decide(qm, appeal.id, note="监控证实恶意差评", headers=HX)
    decided_body = assert_partial(decided)
    assert translated(app, "Appeal upheld: the rating is left out of the KPIs.") in decided_body
    assert f'id="decided-{appeal.id}"' in decided_body and f'id="appeal-{appeal.id}"' not in decided_body
    appeal = reloaded(appeal)
    assert (appeal.status, appeal.decided_by_id) == (APPEAL_UPHELD, org.qm.id) and appeal.signature_id
    assert db.session.get(Ticket, ticket.id).appeal_status == APPEAL_UPHELD
    assert audit("triage.appeal_decide")
    # twice: already decided
    assert _decide(qm, appeal.id).status_code == 422 and count(Signature) == 1

    # the ticket's page keeps the rating visible with the upheld appeal and its decision
    page = text(head.get(f"/queue/{ticket.id}"))
    assert translated(app, "Appeal upheld") in page and "监控证实恶意差评" in page
    assert translated(app, "Left out of the KPIs (appeal upheld)") in page
    assert f'action="/queue/{ticket.id}/appeal"' not in page  # an upheld rating is not appealed again


def test_a_plain_decision_redirects_to_the_review(app, loop_org, client_for):
    org = loop_org
    appeal = loop.file_appeal(org.heads["YY"], org.yy_bad.id, grounds=MISTAKEN, reason="客户选错")
    db.session.commit()
    response = _decide(client_for(org.qm), appeal.id, decision="reject", note="评价属实")
    assert response.status_code == 303 and response.headers["Location"].endswith("/queue/appeals")
    assert reloaded(appeal).status == "rejected"


def test_the_rates_flag_a_department_with_many_upheld_appeals(app, loop_org, client_for):
    org = loop_org
    kf, yy = point(org, "KF60", "KF"), point(org, "YY60", "YY")
    for n in range(3):  # KF: 3 filed, 2 upheld (67 %): flagged
        appeal = loop.file_appeal(org.heads["KF"], rate(kf, 1).id, grounds=MALICIOUS, reason=f"恶意{n}")
        loop.decide_appeal(org.qm, appeal.id, uphold=n < 2, note="复核", password=DEFAULT_PASSWORD)
    for n in range(2):  # YY: 2 filed, 2 upheld: too few to flag
        appeal = loop.file_appeal(org.heads["YY"], rate(yy, 2).id, grounds=MISTAKEN, reason=f"误评{n}")
        loop.decide_appeal(org.qm, appeal.id, uphold=True, note="复核", password=DEFAULT_PASSWORD)
    db.session.commit()
    rates = {r.department_id: r for r in loop.rates_for(org.heads["YY"])}
    assert rates[org.depts["KF"].id].flagged and not rates[org.depts["YY"].id].flagged
    # a head sees every department's rates (they are rate-visible), the flag visibly
    body = text(client_for(org.heads["YY"]).get("/queue/appeals/rates"))
    flag = translated(app, "Many upheld appeals")
    kf_row = re.search(rf'<tr id="rate-{org.depts["KF"].id}".*?</tr>', body, re.S).group(0)
    yy_row = re.search(rf'<tr id="rate-{org.depts["YY"].id}".*?</tr>', body, re.S).group(0)
    assert flag in kf_row and "67%" in kf_row and flag not in yy_row and "100%" in yy_row


def test_the_quality_manager_has_a_to_do_for_the_waiting_appeals(app, loop_org):
    org = loop_org
    assert loop.todos(org.qm) == []
    loop.file_appeal(org.heads["KF"], org.kf_bad.id, grounds=MISTAKEN, reason="误评")
    with app.test_request_context("/"):
        items = loop.todos(org.qm)
        assert [(i.url, "1" in i.title) for i in items] == [("/queue/appeals", True)]
        assert loop.todos(org.heads["KF"]) == []
