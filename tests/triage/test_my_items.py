"""我的工单 in the digest and the heads' to-do of unassigned tickets, on fixed dates (Shanghai time; working hours
09:00–12:00 and 13:30–17:30; high priority: 480 business minutes to resolve, normal: 2400).

At Monday 15 September 2025 13:30 客服部 (KF) has: four open tickets of its member (the oldest from Friday), one
resolved and one spam of the member's; two new tickets nobody has taken (one from Friday, breached), an
unassigned ticket in progress and an unassigned spam. 运营部 (YY) has one new unassigned ticket from Monday
09:00."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.home.registry import todo_items
from portal.notify.digest import preview
from portal.triage import my_items, services, sla
from portal.triage.models import (AWAITING_CUSTOMER, HIGH, IN_PROGRESS, NEW, NORMAL, RESOLVED, STATUS_LABELS,
                                  Ticket)
from tests.helpers import count_queries
from tests.triage.helpers import point, rate
from tests.triage.test_sla import at

NOW = "2025-09-15 13:30"


def ticket(org, dept: str, received: str, status: str = NEW, *, assignee=None, priority: str = HIGH,
           spam: bool = False) -> Ticket:
    """A ticket of ``dept``'s queue in the given state (set directly: the state, not the way to it, is tested)."""
    code = f"{dept}01"
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.department_id == org.depts[dept].id).limit(1))
    made = rate(existing.service_point if existing is not None else point(org, code, dept), 3)
    db.session.execute(sa.update(Ticket).where(Ticket.id == made.id).values(
        received_at=at(received), status=status, priority=priority, assignee_id=getattr(assignee, "id", None),
        is_spam=spam, department_id=org.depts[dept].id, **sla.deadlines(priority, at(received))))
    db.session.expire_all()
    return db.session.get(Ticket, made.id)


def scene(org):
    member = org.kf_member
    mine = [ticket(org, "KF", "2025-09-12 09:00", IN_PROGRESS, assignee=member),
            ticket(org, "KF", "2025-09-15 09:00", AWAITING_CUSTOMER, assignee=member, priority=NORMAL),
            ticket(org, "KF", "2025-09-15 10:00", NEW, assignee=member),
            ticket(org, "KF", "2025-09-15 11:00", IN_PROGRESS, assignee=member)]
    ticket(org, "KF", "2025-09-11 09:00", RESOLVED, assignee=member)
    ticket(org, "KF", "2025-09-11 10:00", IN_PROGRESS, assignee=member, spam=True)
    unassigned = [ticket(org, "KF", "2025-09-12 09:00"), ticket(org, "KF", "2025-09-15 13:00", priority=NORMAL)]
    ticket(org, "KF", "2025-09-11 09:00", IN_PROGRESS)
    ticket(org, "KF", "2025-09-11 09:00", spam=True)
    theirs = [ticket(org, "YY", "2025-09-15 09:00")]
    return mine, unassigned, theirs


def test_my_items_in_the_digest(org, monkeypatch):
    mine, unassigned, theirs = scene(org)
    member, kf_head, yy_head = org.kf_member, org.heads["KF"], org.heads["YY"]
    monkeypatch.setattr(sla, "utcnow", lambda: at(NOW))
    users = [member, kf_head, yy_head, org.qm, org.yy_member]
    for user in users:
        db.session.refresh(user)
    with count_queries() as statements:
        digest = my_items.digest_my_items(users, date(2025, 9, 15))
    # Counts, oldest assigned, departments headed, oldest unassigned, then policies, pauses, calendar: a fixed
    # number for the whole batch.
    assert len(statements) <= 7, "\n".join(s[:80] for s in statements)

    clocks = {t.id: sla.countdown(t, at(NOW)) for t in mine + unassigned + theirs}
    labels = {s: str(STATUS_LABELS[s]) for s in STATUS_LABELS}
    assert [(i.link, i.detail) for i in digest[member.id]] == [
        ("/queue/?assignee=me", f"{labels[NEW]} 1 · {labels[IN_PROGRESS]} 2 · {labels[AWAITING_CUSTOMER]} 1"),
        *[(services.ticket_path(t.id), clocks[t.id].text) for t in mine[:3]]]  # the oldest three
    assert "4" in digest[member.id][0].title
    assert clocks[mine[0].id].breached  # Friday's is overdue: the digest shows it so
    assert labels[AWAITING_CUSTOMER] in digest[member.id][2].title

    kf, yy = org.depts["KF"], org.depts["YY"]
    assert [(i.link, i.detail) for i in digest[kf_head.id]] == [
        (f"/queue/?department={kf.id}&status=new&assignee=none", ""),
        *[(services.ticket_path(t.id), clocks[t.id].text) for t in unassigned]]
    assert kf.name in digest[kf_head.id][0].title and "2" in digest[kf_head.id][0].title
    # The head of 运营部 sees their own queue only; nobody else has anything.
    assert [i.link for i in digest[yy_head.id]] == [f"/queue/?department={yy.id}&status=new&assignee=none",
                                                    services.ticket_path(theirs[0].id)]
    assert set(digest) == {member.id, kf_head.id, yy_head.id}

    # The digest shows the section (the registered provider, through the preview the portal page uses).
    sections = {s["key"]: s for s in preview(kf_head, date(2025, 9, 15))}
    assert [i["link"] for i in sections["triage.my_items"]["items"]][0].endswith("assignee=none")


def test_the_oldest_are_the_first_three_of_many(org, monkeypatch):
    member = org.kf_member
    made = [ticket(org, "KF", f"2025-09-15 0{h}:00", assignee=member) for h in (9, 8, 7, 6, 5)]
    monkeypatch.setattr(sla, "utcnow", lambda: at(NOW))
    items = my_items.for_users([member.id])[member.id]
    assert (items.total, items.by_status) == (5, {NEW: 5})
    assert [t.id for t in items.oldest] == [t.id for t in made[::-1][:3]]


def test_a_head_has_a_to_do_per_queue_with_unassigned_new_tickets(org, monkeypatch, client_for):
    _mine, unassigned, _theirs = scene(org)
    kf_head, yy_head = org.heads["KF"], org.heads["YY"]
    monkeypatch.setattr(sla, "utcnow", lambda: at(NOW))

    def unassigned_todos(user):
        return [i for i in todo_items(user) if "assignee=none" in i.url]

    (kf,) = unassigned_todos(kf_head)
    assert kf.url == f"/queue/?department={org.depts['KF'].id}&status=new&assignee=none"
    assert org.depts["KF"].name in kf.title and "2" in kf.title
    # Urgent: Friday's ticket (600 business minutes used of 480) is overdue; the detail shows it.
    assert kf.urgent and sla.countdown(unassigned[0], at(NOW)).text in kf.detail
    (yy,) = unassigned_todos(yy_head)
    assert yy.url.endswith(f"department={org.depts['YY'].id}&status=new&assignee=none") and not yy.urgent
    # Members and managers who head no queue have none.
    assert not unassigned_todos(org.kf_member) and not unassigned_todos(org.qm)
    # Once taken, the to-do is gone.
    for t in unassigned:
        services.assign(kf_head, t.id, org.kf_member.id)
    assert not unassigned_todos(kf_head)


def test_the_to_do_on_the_home_page(org, client_for):
    ticket(org, "KF", "2025-09-15 09:00")
    db.session.commit()
    page = client_for(org.heads["KF"]).get("/").get_data(as_text=True)
    assert f"/queue/?department={org.depts['KF'].id}&amp;status=new&amp;assignee=none" in page
    assert f"department={org.depts['KF'].id}&amp;status=new" not in client_for(org.heads["YY"]).get("/").get_data(
        as_text=True)
