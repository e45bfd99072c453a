"""The queue pages: the list (filters, keyset pages, query counts, status counts), the ticket page and its actions,
bulk actions — and department isolation on every endpoint (a head of department A gets 404 for anything of B's,
a bulk action with one foreign id smuggled in changes nothing)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.triage import services
from portal.triage.models import CLOSED, IN_PROGRESS, RESOLVED, Ticket, TicketEvent
from tests.helpers import HX, audit, count, count_queries, text
from tests.triage.helpers import point, rate
from tests.triage.test_loop_pages import NOT_PER_TICKET


@pytest.fixture
def queues(org):
    kf, yy = point(org, "KF01", "KF"), point(org, "YY01", "YY")
    kf_tickets = [rate(kf, 4, comment=f"客服{n}") for n in range(3)]
    yy_ticket = rate(yy, 2, comment="运营的差评")
    db.session.commit()
    return dict(org=org, kf=kf, yy=yy, kf_tickets=kf_tickets, yy_ticket=yy_ticket)


def _ids(markup: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', markup)]


def test_a_head_sees_their_queue_and_the_counts(queues, client_for):
    org = queues["org"]
    kf_head = client_for(org.heads["KF"])
    page = kf_head.get("/queue/")
    assert page.status_code == 200
    assert sorted(_ids(text(page))) == sorted(t.id for t in queues["kf_tickets"])
    partial = kf_head.get("/queue/counts", headers=HX)
    assert partial.status_code == 200 and 'hx-trigger="every 30s"' in text(partial)
    assert kf_head.get(f"/queue/{queues['kf_tickets'][0].id}").status_code == 200
    assert kf_head.get(f"/queue/{queues['kf_tickets'][0].id}", headers=HX).status_code == 200


# -- isolation ------------------------------------------------------------------------------------
def _posts(ticket_id: int, other_id: int) -> dict[str, dict]:
    return {
        f"/queue/{ticket_id}/status": {"st-to": "accepted"},
        f"/queue/{ticket_id}/assign": {"as-assignee_id": ""},
        f"/queue/{ticket_id}/reassign": {"re-department_id": "1", "re-reason": "不是我们的"},
        f"/queue/{ticket_id}/note": {"note-text": "偷看", "note-request_key": "k-iso-note"},
        f"/queue/{ticket_id}/reply": {"reply-text": "偷答", "reply-request_key": "k-iso-reply"},
        f"/queue/{ticket_id}/callback": {"cb-called_at": "2026-01-01T10:00", "cb-outcome": "reached"},
        f"/queue/{ticket_id}/merge": {"merge-into_id": str(other_id)},
        f"/queue/{ticket_id}/spam": {"flag-value": "1"},
        f"/queue/{ticket_id}/archive": {"flag-value": "1"},
        f"/queue/{ticket_id}/rectify": {"rect-note": "偷改", "rect-request_key": "k-iso-rect"},
        f"/queue/{ticket_id}/appeal": {"appeal-grounds": "mistaken", "appeal-reason": "偷申诉"},
    }


def test_every_queue_endpoint_is_404_for_another_departments_head(queues, client_for, app):
    org, foreign, own = queues["org"], queues["yy_ticket"], queues["kf_tickets"][0]
    kf_head = client_for(org.heads["KF"])
    before_events, before_audit = count(TicketEvent), len(audit())
    for hx in (False, True):
        headers = HX if hx else {}
        assert kf_head.get(f"/queue/{foreign.id}", headers=headers).status_code == 404
        assert kf_head.get(f"/queue/?department={org.depts['YY'].id}", headers=headers).status_code == 404
        assert kf_head.get(f"/queue/counts?department={org.depts['YY'].id}", headers=headers).status_code == 404
        for url, data in _posts(foreign.id, own.id).items():
            assert kf_head.post(url, data=data, headers=headers).status_code == 404, url
        # merging one's own ticket into a foreign one is as unknown
        assert kf_head.post(f"/queue/{own.id}/merge", data={"merge-into_id": str(foreign.id)},
                            headers=headers).status_code == 404
    # bulk: one foreign id smuggled among the own ones refuses everything
    ids = [t.id for t in queues["kf_tickets"]]
    for action in ("close", "assign"):
        response = kf_head.post("/queue/bulk", data={"ids": [ids[0], foreign.id, ids[1]], "action": action,
                                                     "assignee_id": str(org.kf_member.id)})
        assert response.status_code == 404
    assert count(TicketEvent) == before_events and len(audit()) == before_audit
    db.session.expire_all()
    assert {t.status for t in db.session.scalars(sa.select(Ticket))} == {"new"}
    assert all(t.assignee_id is None for t in db.session.scalars(sa.select(Ticket)))
    # every route of the blueprint was tried above (the incidents' and settings' routes: tests/triage/test_admin_pages.py)
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("queue.")
             and app.view_functions[r.endpoint].__module__ != "portal.triage.admin_views"}
    tried = {re.sub(r"/\d+", "/<int:ticket_id>", u) for u in _posts(1, 2)} | {"/queue/", "/queue/counts",
                                                                               "/queue/bulk", "/queue/<int:ticket_id>"}
    tried |= NOT_PER_TICKET  # the 差评 loop's evidence, 申诉复核 and rates: isolated in test_loop_pages.py
    assert rules <= tried, rules - tried


def test_bulk_is_at_most_100_and_one_department(queues, client_for):
    org = queues["org"]
    qm = client_for(org.qm)
    response = qm.post("/queue/bulk", data={"ids": [t.id for t in queues["kf_tickets"]] + [queues["yy_ticket"].id],
                                            "action": "close"})
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert count(Ticket, Ticket.status == CLOSED) == 0  # two queues: refused
    assert qm.post("/queue/bulk", data={"ids": [str(n) for n in range(1, 102)], "action": "close"}).status_code \
        in (302, 303)
    assert count(Ticket, Ticket.status == CLOSED) == 0
    kf_head = client_for(org.heads["KF"])
    ids = [t.id for t in queues["kf_tickets"]]
    kf_head.post("/queue/bulk", data={"ids": ids, "action": "assign", "assignee_id": str(org.kf_member.id)})
    db.session.expire_all()
    assert count(Ticket, Ticket.assignee_id == org.kf_member.id) == 3
    assert len(audit("triage.assign")) == 3
    kf_head.post("/queue/bulk", data={"ids": ids, "action": "close"})
    assert count(Ticket, Ticket.status == CLOSED) == 3 and len(audit("triage.status")) == 3


# -- the list -------------------------------------------------------------------------------------
def test_keyset_pages_neither_repeat_nor_skip(org, client_for, monkeypatch):
    from portal.triage import queue

    kf = point(org, "KF09", "KF")
    tickets = [rate(kf, 4) for _ in range(11)]
    same = utcnow() - timedelta(hours=1)  # ties on received_at: the id breaks them
    db.session.execute(sa.update(Ticket).where(Ticket.id.in_([t.id for t in tickets[3:8]])).values(received_at=same))
    db.session.commit()
    monkeypatch.setattr(queue, "PAGE_SIZE", 4)
    head = client_for(org.heads["KF"])
    seen, url = [], "/queue/"
    for _ in range(5):
        markup = text(head.get(url, headers=HX))
        seen += _ids(markup)
        more = re.search(r'id="queue-older" href="([^"]+)"', markup)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)) == 11
    expected = [t.id for t in sorted(db.session.scalars(sa.select(Ticket)),
                                     key=lambda t: (t.received_at, t.id), reverse=True)]
    assert seen == expected


def test_a_page_costs_the_same_queries_whatever_its_size(org, client_for):
    kf = point(org, "KF08", "KF")
    rate(kf, 3)
    db.session.commit()
    head = client_for(org.heads["KF"])
    head.get("/queue/")
    with count_queries() as few:
        assert head.get("/queue/").status_code == 200
    for n in range(30):
        ticket = rate(kf, 1 + n % 5, contact="13800138000" if n % 3 == 0 else "", consent=n % 3 == 0)
        services.assign(org.heads["KF"], ticket.id, (org.kf_member, org.heads["KF"], org.employee)[n % 3].id)
    db.session.commit()
    with count_queries() as many:
        markup = text(head.get("/queue/"))
    assert len(_ids(markup)) == 31
    assert len(many) == len(few) <= 10, "\n".join(s[:150] for s in many)


def test_filters(queues, client_for):
    org = queues["org"]
    qm = client_for(org.qm)
    everything = _ids(text(qm.get("/queue/")))
    assert len(everything) == 4
    assert _ids(text(qm.get("/queue/?priority=high"))) == [queues["yy_ticket"].id]
    assert _ids(text(qm.get(f"/queue/?point={queues['kf'].id}"))) == sorted(
        (t.id for t in queues["kf_tickets"]), reverse=True)
    assert len(_ids(text(qm.get(f"/queue/?department={org.depts['KF'].id}")))) == 3
    services.assign(org.heads["KF"], queues["kf_tickets"][0].id, org.heads["KF"].id)
    services.set_spam(org.qm, queues["kf_tickets"][1].id, True)
    db.session.commit()
    kf_head = client_for(org.heads["KF"])
    assert _ids(text(kf_head.get("/queue/?assignee=me"))) == [queues["kf_tickets"][0].id]
    assert queues["kf_tickets"][1].id not in _ids(text(qm.get("/queue/")))  # spam hidden by default
    assert queues["kf_tickets"][1].id in _ids(text(qm.get("/queue/?spam=1")))
    assert _ids(text(qm.get("/queue/?status=closed"))) == []
    counts = text(qm.get("/queue/counts?status=open", headers=HX))
    assert re.search(r'新建|New', counts)


# -- the ticket page: notes, replies, merging ----------------------------------------------------
def test_double_clicks_add_one_note_and_one_reply(queues, client_for):
    ticket = queues["kf_tickets"][0]
    member = client_for(queues["org"].kf_member)
    for _ in range(2):
        assert member.post(f"/queue/{ticket.id}/note", data={"note-text": "已联系窗口", "note-request_key": "k-n1"},
                           headers=HX).status_code == 200
        assert member.post(f"/queue/{ticket.id}/reply",
                           data={"reply-text": "您好，已处理", "reply-request_key": "k-r1"}, headers=HX).status_code == 200
    assert count(TicketEvent, TicketEvent.kind == "note") == 1
    assert count(TicketEvent, TicketEvent.kind == "reply") == 1
    assert len(audit("triage.note")) == len(audit("triage.reply")) == len(audit("feedback.reply")) == 1
    empty = member.post(f"/queue/{ticket.id}/note", data={"note-text": "", "note-request_key": "k-n2"}, headers=HX)
    assert empty.status_code == 422


def test_merging_keeps_both_histories_on_the_pages(queues, client_for):
    org = queues["org"]
    keep, dup = queues["kf_tickets"][0], queues["kf_tickets"][1]
    head = client_for(org.heads["KF"])
    head.post(f"/queue/{keep.id}/note", data={"note-text": "保留单的记录", "note-request_key": "k-m1"})
    head.post(f"/queue/{dup.id}/note", data={"note-text": "重复单的记录", "note-request_key": "k-m2"})
    assert head.post(f"/queue/{dup.id}/merge", data={"merge-into_id": str(keep.id)}).status_code in (302, 303)
    kept = text(head.get(f"/queue/{keep.id}"))
    assert "保留单的记录" in kept and "重复单的记录" in kept
    duplicate = text(head.get(f"/queue/{dup.id}"))
    assert "重复单的记录" in duplicate and f"/queue/{keep.id}" in duplicate
    db.session.expire_all()
    assert db.session.get(Ticket, dup.id).status == CLOSED


def test_status_buttons_and_the_reopen_wording(queues, client_for):
    ticket = queues["kf_tickets"][2]
    member = client_for(queues["org"].kf_member)
    assert member.post(f"/queue/{ticket.id}/status", data={"st-to": "in_progress"}).status_code in (302, 303)
    assert member.post(f"/queue/{ticket.id}/status", data={"st-to": "resolved"}).status_code in (302, 303)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == RESOLVED and ticket.feedback.resolved_at is not None
    refused = member.post(f"/queue/{ticket.id}/status", data={"st-to": "awaiting_customer"}, headers=HX)
    assert refused.status_code == 422
    member.post(f"/queue/{ticket.id}/status", data={"st-to": "in_progress"})
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == IN_PROGRESS and ticket.feedback.resolved_at is None


def test_the_badges_count_open_work_exactly_and_the_history_up_to_a_cap(queues, client_for, monkeypatch):
    """Open statuses are counted exactly; resolved and closed only up to COUNT_CAP (shown "N+"), so a badge costs
    the same with two years of closed tickets behind it (bench/triage_queue_bench.py)."""
    from portal.triage import queue

    org, kf = queues["org"], queues["kf"]
    head = org.heads["KF"]
    more = [rate(kf, 5, comment=f"多{n}") for n in range(3)]
    queue.bulk_close(head, [t.id for t in more] + [queues["kf_tickets"][0].id])
    db.session.commit()
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    filters = queue.QueueFilters(department_id=org.depts["KF"].id)
    counts = queue.status_counts(head, filters)
    assert counts["new"] == 2 and counts["open"] == 2  # exact
    assert counts["closed"] > 3 and isinstance(counts["closed"], queue.Capped) and str(counts["closed"]) == "3+"
    assert counts["resolved"] == 0 and not isinstance(counts["resolved"], queue.Capped)
    badges = text(client_for(head).get(f"/queue/counts?department={org.depts['KF'].id}", headers=HX))
    assert re.search(r"(已关闭|Closed) <span class=\"badge[^\"]*\">3\+</span>", badges), badges
    assert re.search(r"(新建|New) <span class=\"badge[^\"]*\">2</span>", badges)
    monkeypatch.setattr(queue, "COUNT_CAP", 4)  # exactly at the cap: the number itself
    assert queue.status_counts(head, filters)["closed"] == 4
    assert not isinstance(queue.status_counts(head, filters)["closed"], queue.Capped)
    # the YY ticket (another department) is in none of these counts, and spam leaves them
    services.set_spam(org.qm, queues["kf_tickets"][1].id, True)
    db.session.commit()
    assert queue.status_counts(head, filters)["new"] == 1
