"""我的工单 in the daily digest and on the home page: the open tickets assigned to a person (how many in each
status, the oldest few with their countdowns) and, for the head of a department, the new tickets of their queues
that nobody has taken yet — with a to-do per such queue.

Spam and merged duplicates are left out (as in the queue); "open" is ``OPEN_STATUSES`` (awaiting the customer
included: it is still the person's). A queue is a head's when ``Department.head_id`` names them (as everywhere in
triage), whatever their roles.

Cost: ``for_users`` answers for a whole batch of the digest in a fixed number of queries — the counts by status,
the oldest assigned tickets, the departments headed, the oldest unassigned new tickets with their totals, then the
countdowns (policies, pauses, calendar) — never one per user or per ticket.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.home.registry import TodoItem, register_todo_provider
from portal.notify.registry import DigestItem, register_digest_section
from portal.org.models import Department
from portal.triage import sla
from portal.triage.models import NEW, OPEN_STATUSES, STATUS_LABELS, Ticket

#: How many of the oldest tickets the digest lists, per person and per queue.
OLDEST = 3


@dataclass
class Queue:
    """A queue a user heads: its new tickets nobody has taken (``total``), the oldest ``OLDEST`` of them."""

    department_id: int
    name: str
    total: int = 0
    oldest: list[Ticket] = field(default_factory=list)


@dataclass
class MyItems:
    """One user's part: their open tickets by status, the oldest ones, and the queues they head."""

    by_status: dict[str, int] = field(default_factory=dict)
    oldest: list[Ticket] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _live():
    """The tickets the queue shows (not spam, not merged into another)."""
    return (Ticket.is_spam.is_(False), Ticket.duplicate_of_id.is_(None), Ticket.archived_at.is_(None))


def _oldest(partition, *where):
    """The ``OLDEST`` oldest tickets of each ``partition`` under ``where``, with their partition's total: one query
    (a window, so the rows read are those matching, never one query per partition)."""
    ranked = (sa.select(Ticket.id,
                        sa.func.row_number().over(partition_by=partition,
                                                  order_by=(Ticket.received_at, Ticket.id)).label("rank"),
                        sa.func.count().over(partition_by=partition).label("total"))
              .where(*where, *_live()).subquery())
    return db.session.execute(sa.select(Ticket, ranked.c.total).join(ranked, ranked.c.id == Ticket.id)
                              .where(ranked.c.rank <= OLDEST).order_by(Ticket.received_at, Ticket.id)).all()


def for_users(user_ids, *, mine: bool = True, heads: bool = True) -> dict[int, MyItems]:
    """user id → their items (only users with something). ``mine=False`` leaves their own tickets out,
    ``heads=False`` the queues they head."""
    ids = sorted(set(user_ids))
    out: dict[int, MyItems] = defaultdict(MyItems)
    if not ids:
        return {}
    for assignee_id, status, n in db.session.execute(
            sa.select(Ticket.assignee_id, Ticket.status, sa.func.count())
            .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(OPEN_STATUSES), *_live())
            .group_by(Ticket.assignee_id, Ticket.status)) if mine else ():
        out[assignee_id].by_status[status] = n
    for ticket, _total in _oldest(Ticket.assignee_id, Ticket.assignee_id.in_(ids),
                                  Ticket.status.in_(OPEN_STATUSES)) if mine else ():
        out[ticket.assignee_id].oldest.append(ticket)
    if heads:
        queues: dict[int, Queue] = {}
        for department in db.session.execute(
                sa.select(Department.id, Department.name, Department.head_id)
                .where(Department.head_id.in_(ids), Department.active.is_(True))
                .order_by(Department.sort_order, Department.name)):
            queues[department.id] = Queue(department.id, department.name)
            out[department.head_id].queues.append(queues[department.id])
        if queues:
            for ticket, total in _oldest(Ticket.department_id, Ticket.department_id.in_(sorted(queues)),
                                         Ticket.status == NEW, Ticket.assignee_id.is_(None)):
                queues[ticket.department_id].total = total
                queues[ticket.department_id].oldest.append(ticket)
        for items in out.values():
            items.queues = [q for q in items.queues if q.total]
    return {uid: items for uid, items in out.items() if items.total or items.queues}


def queue_link(**args) -> str:
    from portal.triage.services import BASE_PATH

    return f"{BASE_PATH}/?{urlencode(args)}"


def unassigned_link(department_id: int) -> str:
    return queue_link(department=department_id, status=NEW, assignee="none")


def _status_summary(by_status: dict[str, int]) -> str:
    return " · ".join(f"{STATUS_LABELS[s]} {by_status[s]}" for s in OPEN_STATUSES if by_status.get(s))


def _ticket_item(ticket: Ticket, clocks: dict) -> DigestItem:
    from portal.triage.services import ticket_path

    clock = clocks.get(ticket.id)
    return DigestItem(title=_("Ticket %(ticket)s (%(status)s)", ticket=sla._label(ticket),
                              status=ticket.status_label),
                      link=ticket_path(ticket.id), detail=clock.text if clock else "")


def digest_my_items(users, day, now: datetime | None = None) -> dict[int, list[DigestItem]]:
    """我的工单: for each user, their open tickets (count by status, the oldest few with their countdowns) and, for
    a head, the new tickets of their queues that nobody has taken."""
    found = for_users([u.id for u in users])
    clocks = sla.countdowns([t for items in found.values()
                             for t in items.oldest + [t for q in items.queues for t in q.oldest]], now)
    out = {}
    for user_id, items in found.items():
        rows = []
        if items.total:
            rows.append(DigestItem(title=_("Open tickets assigned to me: %(n)d", n=items.total),
                                   link=queue_link(assignee="me"), detail=_status_summary(items.by_status)))
            rows += [_ticket_item(t, clocks) for t in items.oldest]
        for queue in items.queues:
            rows.append(DigestItem(title=_("%(department)s: %(n)d new tickets not taken by anyone",
                                           department=queue.name, n=queue.total),
                                   link=unassigned_link(queue.department_id)))
            rows += [_ticket_item(t, clocks) for t in queue.oldest]
        out[user_id] = rows
    return out


def todos(user) -> list[TodoItem]:
    """A to-do per queue the user heads that has new tickets nobody has taken (urgent when one of the oldest is
    past its target)."""
    if not user.active:
        return []
    queues = [q for items in for_users([user.id], mine=False).values() for q in items.queues]
    if not queues:
        return []
    clocks = sla.countdowns([t for q in queues for t in q.oldest])
    out = []
    for queue in queues:
        oldest = clocks.get(queue.oldest[0].id)
        out.append(TodoItem(title=_("%(department)s: %(n)d new tickets not taken by anyone", department=queue.name,
                                    n=queue.total),
                            url=unassigned_link(queue.department_id), category=_("Tickets"),
                            detail=_("The oldest: %(time)s", time=oldest.text) if oldest else "",
                            urgent=any(clocks[t.id].breached for t in queue.oldest if t.id in clocks)))
    return out


def register() -> None:
    register_digest_section("triage.my_items", _l("My tickets"), digest_my_items, order=29)
    register_todo_provider("triage.unassigned", todos, order=31)
