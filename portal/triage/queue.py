"""The queue pages' reads and bulk actions: a department's tickets newest first, filtered, a page at a time by keyset
on (received_at, id) — never OFFSET — with the count of each status; bulk assign and close.

What a page costs does not grow with the history (bench/triage_queue_bench.py, 10,000 against 1,000,000 items): a
page reads its 51 rows along an index (``ix_ticket_queue``; ``ix_ticket_queue_open`` for the default view, the open
tickets), and the badges count the open statuses exactly (bounded by the open work, from that index alone) but the
resolved and closed ones only up to ``COUNT_CAP`` (shown as "999+"): counting a department's whole closed history
on every page and every 30 s poll took 370 ms of a page at 1,000,000 items, for a number nobody acts on.

Isolation as everywhere in triage: a department outside the reader's queues is NotFound, never an empty page; a bulk
action naming any ticket the actor may not work is NotFound as a whole and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask_babel import gettext as _
from flask import g, has_request_context
from sqlalchemy.orm import joinedload

from portal.core.errors import NotFound, ServiceError
from portal.core.i18n import portal_tz
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Department, User
from portal.triage import reply, services
from portal.triage.models import CLOSED, OPEN_PREDICATE, OPEN_STATUSES, PRIORITIES, STATUSES, Ticket
from portal.triage.sla import RUNNING as RUNNING_STATUSES
from portal.workcal.services import local_today

PAGE_SIZE = 50
#: The resolved and closed badges count this many at most (a larger count shows as "999+").
COUNT_CAP = 999
BULK_MAX = 100
#: The SLA state filter (running tickets only: new, accepted, in progress; a ticket awaiting the customer is
#: paused). Breached: its resolution deadline, or its first-response deadline without a response, has passed
#: (deadlines are moments computed in business time, so comparing them with now is exact). Due today: not
#: breached, resolution deadline before the end of the local day. On track: the other running tickets.
SLA_BREACHED, SLA_DUE_TODAY, SLA_ON_TRACK = "breached", "due_today", "on_track"
SLA_STATES = (SLA_BREACHED, SLA_DUE_TODAY, SLA_ON_TRACK)
#: The assignee filter's words besides a user id.
ASSIGNEE_ME, ASSIGNEE_NONE = "me", "none"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: "Open", as the partial index ``ix_ticket_queue_open`` is written (so PostgreSQL uses it).
_OPEN_SQL = sa.text("ticket." + OPEN_PREDICATE)


@dataclass
class QueueFilters:
    department_id: int | None = None
    status: str = ""             # "" every open and closed status, "open", or one of STATUSES
    priority: str = ""
    service_point_id: int | None = None
    assignee: str = ""           # "" | me | none | a user id
    spam: bool = False           # show spam too
    archived: bool = False       # show archived too
    cursor: str = ""             # keyset: "<received_at in µs>-<id>" of the last row shown
    sla: str = ""                # "" | breached | due_today | on_track (SLA_STATES)

    def args(self) -> dict:
        """The filters as query parameters (without the status and the cursor), for links."""
        out = {"department": self.department_id, "priority": self.priority,
               "point": self.service_point_id, "assignee": self.assignee, "spam": "1" if self.spam else "",
               "archived": "1" if self.archived else "", "sla": self.sla}
        return {k: v for k, v in out.items() if v}


@dataclass
class QueuePage:
    items: list[Ticket]
    next_cursor: str
    counts: dict[str, int] = field(default_factory=dict)
    department: Department | None = None


def encode_cursor(ticket: Ticket) -> str:
    received = ticket.received_at if ticket.received_at.tzinfo else ticket.received_at.replace(tzinfo=timezone.utc)
    return f"{(received - _EPOCH) // timedelta(microseconds=1)}-{ticket.id}"


def decode_cursor(text: str) -> tuple[datetime, int] | None:
    micros, _sep, ident = (text or "").partition("-")
    if not (micros.isascii() and micros.isdigit() and ident.isascii() and ident.isdigit()) \
            or len(micros) > 18 or len(ident) > 10:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), int(ident)
    except OverflowError:
        return None


def queue_ids(actor) -> set[int] | None:
    """``services.queue_department_ids``, once per request."""
    if not has_request_context():
        return services.queue_department_ids(actor)
    cache = g.setdefault("_triage_queue_ids", {})
    if actor.id not in cache:
        cache[actor.id] = services.queue_department_ids(actor)
    return cache[actor.id]


def visible_departments(actor) -> list[Department]:
    """The queues the actor may open, in the organisation's order (once per request)."""
    cache = g.setdefault("_triage_visible_departments", {}) if has_request_context() else {}
    if actor.id in cache:
        return cache[actor.id]
    ids = queue_ids(actor)
    stmt = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.name)
    if ids is not None:
        stmt = stmt.where(Department.id.in_(ids or {-1}))
    cache[actor.id] = departments = list(db.session.scalars(stmt))
    return departments


def _sla_clause(state: str, now: datetime | None = None):
    now = now or utcnow()
    running = Ticket.status.in_(RUNNING_STATUSES)
    breached = sa.or_(Ticket.resolution_due_at <= now,
                      sa.and_(Ticket.first_response_at.is_(None), Ticket.first_response_due_at <= now))
    if state == SLA_BREACHED:
        return sa.and_(running, breached)
    end_of_day = datetime.combine(local_today() + timedelta(days=1), time.min, portal_tz())
    due_today = sa.and_(Ticket.resolution_due_at.is_not(None), Ticket.resolution_due_at < end_of_day)
    if state == SLA_DUE_TODAY:
        return sa.and_(running, sa.not_(breached), due_today)
    return sa.and_(running, sa.not_(breached), sa.not_(due_today))


def _scope(actor, filters: QueueFilters):
    """The WHERE clauses of the reader's queue(s) and the filters but the status; NotFound for a foreign queue."""
    ids = queue_ids(actor)
    department = None
    if filters.department_id:
        if ids is not None and filters.department_id not in ids:
            raise NotFound()
        # The page lists the reader's departments anyway: found among them, it costs no query of its own.
        department = next((d for d in visible_departments(actor) if d.id == filters.department_id), None) \
            if ids is not None else None
        department = department or db.session.get(Department, filters.department_id)
        if department is None:
            raise NotFound()
        where = [Ticket.department_id == department.id]
    elif ids is None:
        where = []
    else:
        where = [Ticket.department_id.in_(ids or {-1})]
    if filters.priority in PRIORITIES:
        where.append(Ticket.priority == filters.priority)
    if filters.service_point_id:
        where.append(Ticket.service_point_id == filters.service_point_id)
    if filters.sla in SLA_STATES:
        where.append(_sla_clause(filters.sla))
    if filters.assignee == ASSIGNEE_ME:
        where.append(Ticket.assignee_id == actor.id)
    elif filters.assignee == ASSIGNEE_NONE:
        where.append(Ticket.assignee_id.is_(None))
    elif filters.assignee.isascii() and filters.assignee.isdigit() and len(filters.assignee) <= 10:
        where.append(Ticket.assignee_id == int(filters.assignee))
    if not filters.spam:
        where.append(Ticket.is_spam.is_(False))
    if not filters.archived:
        where.append(Ticket.archived_at.is_(None))
    return where, department


def _status_clause(status: str):
    if status == "open":
        return _OPEN_SQL
    if status in STATUSES:
        return Ticket.status == status
    return None


def status_counts(actor, filters: QueueFilters) -> dict[str, int]:
    """{status: tickets} under the filters but the status (one query), and "open": the open ones together.

    The open statuses are counted exactly; the others (resolved, closed: the history) up to COUNT_CAP + 1, so a
    count above COUNT_CAP means "more than COUNT_CAP" (a ``Capped`` number, which shows as "999+")."""
    where, _department = _scope(actor, filters)
    parts: list = [sa.select(Ticket.status, sa.func.count()).where(*where, _OPEN_SQL).group_by(Ticket.status)]
    for status in STATUSES:
        if status not in OPEN_STATUSES:
            capped = sa.select(sa.literal(1).label("one")).where(*where, Ticket.status == status) \
                .limit(COUNT_CAP + 1).subquery()
            parts.append(sa.select(sa.literal(status, sa.String), sa.func.count()).select_from(capped))
    counts = {status: 0 for status in STATUSES}
    counts.update({status: Capped(n) if n > COUNT_CAP else n
                   for status, n in db.session.execute(sa.union_all(*parts))})
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    return counts


class Capped(int):
    """A count that stopped at COUNT_CAP + 1: compares as that number, shows as "999+"."""

    def __str__(self) -> str:
        return f"{COUNT_CAP}+"


def list_queue(actor, filters: QueueFilters, page_size: int | None = None, *, with_counts: bool = True) -> QueuePage:
    """A page of the queue, newest first (a fixed number of queries, whatever the page size)."""
    page_size = page_size or PAGE_SIZE
    where, department = _scope(actor, filters)
    status = _status_clause(filters.status)
    stmt = sa.select(Ticket).where(*where)
    if status is not None:
        stmt = stmt.where(status)
    cursor = decode_cursor(filters.cursor)
    if cursor is not None:
        stmt = stmt.where(sa.tuple_(Ticket.received_at, Ticket.id) < sa.tuple_(*cursor))
    rows = list(db.session.scalars(
        stmt.options(joinedload(Ticket.feedback), joinedload(Ticket.service_point),
                     joinedload(Ticket.assignee).lazyload(User.role_rows))
        .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(page_size + 1)))
    more = len(rows) > page_size
    rows = rows[:page_size]
    counts = status_counts(actor, filters) if with_counts else {}
    return QueuePage(rows, encode_cursor(rows[-1]) if more and rows else "", counts, department)


def member_choices(department_ids) -> list[tuple[int, str]]:
    """Active members of the departments, for the assignee pickers."""
    ids = list(department_ids or ())
    if not ids:
        return []
    return [(row.id, row.display_name) for row in db.session.execute(
        sa.select(User.id, User.display_name).where(User.department_id.in_(ids), User.active.is_(True))
        .order_by(User.display_name))]


# -- bulk -----------------------------------------------------------------------------------------
def bulk_tickets(actor, ids: list[int]) -> list[Ticket]:
    """The tickets of a bulk action: at most BULK_MAX, each one the actor may work (NotFound for the whole list
    otherwise: one foreign id anywhere refuses everything), all in one department."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ServiceError(("ids", _("Choose at least one ticket.")))
    if len(ids) > BULK_MAX:
        raise ServiceError(("ids", _("At most %(n)d tickets at a time.", n=BULK_MAX)))
    tickets = list(db.session.scalars(sa.select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id)))
    if len(tickets) != len(ids) or not all(services.may_work(actor, t) for t in tickets):
        raise NotFound()
    if len({t.department_id for t in tickets}) > 1:
        raise ServiceError(("ids", _("Choose tickets of one department's queue only.")))
    return tickets


def bulk_assign(actor, ids: list[int], assignee_id: int | None) -> int:
    tickets = bulk_tickets(actor, ids)
    for ticket in tickets:
        services.assign(actor, ticket.id, assignee_id)
    return len(tickets)


def bulk_close(actor, ids: list[int]) -> int:
    from portal.triage.reply import change_status

    tickets = bulk_tickets(actor, ids)
    for ticket in tickets:
        if ticket.status != CLOSED:
            change_status(actor, ticket.id, CLOSED)
    return len(tickets)


# -- the ticket page ------------------------------------------------------------------------------
@dataclass
class History:
    events: list
    users: dict[int, str]
    departments: dict[int, str]
    #: {reply event id: status of its email to the customer} (notify's delivery statuses)
    emails: dict[int, str] = field(default_factory=dict)


def ticket_history(ticket: Ticket) -> History:
    """The ticket's history (with its duplicates') and the names its events refer to (three queries)."""
    events = services.history(ticket)
    user_ids, dept_ids = set(), set()
    for event in events:
        if event.actor_id:
            user_ids.add(event.actor_id)
        data = event.data or {}
        if event.kind == "assign":
            user_ids.update(v for v in (data.get("before"), data.get("after")) if isinstance(v, int))
        if event.kind == "reassign":
            dept_ids.update(v for v in (data.get("before"), data.get("to")) if isinstance(v, int))
    users = {u.id: u.display_name for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))} \
        if user_ids else {}
    departments = {d.id: d.name for d in db.session.scalars(sa.select(Department).where(Department.id.in_(dept_ids)))} \
        if dept_ids else {}
    return History(events, users, departments, reply.reply_email_statuses(events))
