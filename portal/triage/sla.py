"""Service levels of the queues (工单时限): targets per priority in business minutes, deadlines, warnings, the
escalation ladder, the countdown shown on each ticket, the digest section and the to-do "my SLA at risk".

**Time** is business time (``portal.workcal.clock``): working hours of working days of the Chinese calendar
(statutory holidays, 调休 make-up days, administrators' overrides), minus the stretches during which the ticket was
not in anyone's hands (``TicketPause`` rows):

* awaiting the customer: from the move to 等待客户 to the move out of it;
* resolved, then reopened (by staff, or by the customer's poor rating of the handling, ``reply.on_resolution_rated``):
  the stretch from ``resolved_at`` to the reopening, written by ``services._transition`` at the reopening. The
  clock takes up where it stopped when the ticket was resolved: the warnings and escalations sent before stay sent,
  the deadline moves by the business time spent resolved. (A ticket resolved and never reopened has no clock.)

Time spent marked as spam counts (the customer waited all the same): a ticket marked spam leaves the scan
(``sla_next_check_at`` cleared, nobody is warned), and one un-marked gets its next moment back
(``after_status_change``), so steps that passed meanwhile fire at the next scan. Every department works ``PORTAL_WORKING_HOURS`` (``default_working_hours()``): there
is no per-department setting yet (``working_hours_of`` is the one place to add it, no model exists for it).

**Targets** (``SlaPolicy`` per priority, ``DEFAULT_POLICIES`` when a priority has no row): the first response
(accepting or starting the ticket) and the resolution, both counted from ``received_at``. ``warn_at`` lists the
per cents of the resolution target at which the person working the ticket is warned (default 50, 75, 100).

**Steps**, each fired once per ticket (recorded in ``Ticket.sla_warned`` and ``Ticket.escalation``):

* ``first_response``: the first-response target passed without a response — the assignee (the department's head
  when unassigned) is told;
* a warning ``t`` of ``warn_at`` below 100: reached when ``elapsed * 100 >= t * target`` (the rule of
  ``clock.warnings_due``) — the assignee (or the head);
* escalation 1, the breach (100): the assignee, or the head when unassigned;
* escalation 2: ``PORTAL_SLA_ESCALATE_HEAD_MINUTES`` (120) business minutes after the breach — the head of the
  ticket's department;
* escalation 3: ``PORTAL_SLA_ESCALATE_QM_MINUTES`` (480) business minutes after the breach — every active quality
  manager.

A scan that ran late fires every step passed meanwhile, once each; of several warnings due together only the most
urgent message goes out (the others are recorded as sent).

**The scan** (``scan``, the job ``triage_sla_scan`` every 2 minutes) reads only tickets whose
``sla_next_check_at`` (the moment of their next pending step) has passed, through the partial index
``ix_ticket_sla_next_check`` over open, running tickets: its cost follows the tickets that are due, not all open
ones. A ticket awaiting the customer is outside the index (its clock is stopped); on resume ``after_status_change``
recomputes its deadline (a pause moves it by the business time it covered) and its next moment. Each ticket's
steps are claimed with a conditional UPDATE on the ``sla_next_check_at`` and ``escalation`` that were read, so a
second or racing scan sends nothing twice; notifications carry dedupe keys besides. Email respects quiet hours
(``notify_each`` holds the delivery until they end); the in-app notification is immediate.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.audit.services import record, record_many
from portal.core.errors import PermissionDenied, ServiceError
from portal.core.registry import register_cron
from portal.core.roles import QUALITY_MANAGER
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.services import active_users_with_role
from portal.home.registry import TodoItem, register_todo_provider
from portal.notify.registry import DigestItem, register_digest_section, register_kind
from portal.notify.services import Message, notify_each
from portal.org.models import Department, User
from portal.triage.models import (ACCEPTED, HIGH, IN_PROGRESS, LOW, NEW, NORMAL, OPEN_STATUSES, PRIORITIES,
                                  SlaPolicy, Ticket, TicketPause)
from portal.workcal import clock
from portal.workcal.services import WorkCalendar, WorkingHours, default_working_hours

KIND_WARNING = "triage.sla_warning"
KIND_ESCALATED = "triage.sla_escalated"
#: (first response, resolution) in business minutes, when a priority has no SlaPolicy row.
DEFAULT_POLICIES = {HIGH: (60, 480), NORMAL: (240, 2400), LOW: (480, 4800)}
DEFAULT_HEAD_MINUTES, DEFAULT_QM_MINUTES = 120, 480
FIRST_RESPONSE = "first_response"
BREACH = 100
#: Statuses whose clock runs (awaiting the customer is open but stopped).
RUNNING = (NEW, ACCEPTED, IN_PROGRESS)
#: The partial indexes' predicate, written as they are so PostgreSQL matches it (bound values would not).
_RUNNING_SQL = sa.text("ticket.status IN ('new', 'accepted', 'in_progress')")
#: "At risk" for the digest and the to-do: this share of the resolution target used, or more.
AT_RISK_PERCENT = 75
SCAN_BATCH = 500
#: Most tickets one scan handles (the rest wait for the next run, 2 minutes later).
SCAN_MAX = 20_000
DIGEST_MAX = 20


# -- policies -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    priority: str
    first_response_minutes: int
    resolution_minutes: int
    warn_at: tuple[int, ...] = clock.DEFAULT_THRESHOLDS


def _policy(row: SlaPolicy) -> Policy:
    return Policy(row.priority, row.first_response_minutes, row.resolution_minutes,
                  tuple(sorted({int(t) for t in (row.warn_at or ())})))


def policies() -> dict[str, Policy]:
    """Every priority's policy: the stored row, or the default. One query."""
    out = {p: Policy(p, *DEFAULT_POLICIES[p]) for p in PRIORITIES}
    out.update({row.priority: _policy(row) for row in db.session.scalars(sa.select(SlaPolicy))})
    return out


def policy_for(priority: str) -> Policy:
    row = db.session.get(SlaPolicy, priority)
    return _policy(row) if row is not None else Policy(priority, *DEFAULT_POLICIES.get(priority, DEFAULT_POLICIES[NORMAL]))


def save_policy(actor, priority: str, *, first_response_minutes: int | None, resolution_minutes: int | None,
                warn_at: list[int] | tuple[int, ...] = clock.DEFAULT_THRESHOLDS) -> SlaPolicy:
    """Set a priority's targets (quality managers and administrators; audited). New tickets get the new targets.
    Open tickets keep their stored deadlines (and next moment) until their next status change; the scan, when it
    next looks at one, judges it by the current targets."""
    from portal.triage.services import is_manager

    if not is_manager(actor):
        raise PermissionDenied()
    if priority not in PRIORITIES:
        raise ServiceError(("priority", _("Choose a priority.")))
    errors = []
    if not first_response_minutes or first_response_minutes <= 0:
        errors.append(("first_response_minutes", _("Enter a positive number of working minutes.")))
    if not resolution_minutes or resolution_minutes <= 0:
        errors.append(("resolution_minutes", _("Enter a positive number of working minutes.")))
    elif first_response_minutes and resolution_minutes < first_response_minutes:
        errors.append(("resolution_minutes", _("The resolution target cannot be shorter than the first response.")))
    thresholds = sorted({int(t) for t in (warn_at or ())})
    if any(not 0 < t <= BREACH for t in thresholds):
        errors.append(("warn_at", _("Warnings are per cents of the target from 1 to 100.")))
    if errors:
        raise ServiceError(*errors)
    row = db.session.get(SlaPolicy, priority)
    current = _policy(row) if row is not None else Policy(priority, *DEFAULT_POLICIES[priority])
    before = {"first_response_minutes": current.first_response_minutes,
              "resolution_minutes": current.resolution_minutes, "warn_at": list(current.warn_at)}
    if row is None:
        row = SlaPolicy(priority=priority)
        db.session.add(row)
    row.first_response_minutes, row.resolution_minutes = first_response_minutes, resolution_minutes
    row.warn_at, row.updated_at = thresholds, utcnow()
    db.session.flush()
    after = {"first_response_minutes": first_response_minutes, "resolution_minutes": resolution_minutes,
             "warn_at": thresholds}
    if after != before:
        record("triage.sla_policy", actor=actor, object_type="sla_policy", object_id=priority, before=before,
               after=after)
    return row


def escalation_minutes() -> tuple[int, int]:
    """(head, quality managers): business minutes after the breach; the managers never before the head."""
    head = max(1, int(current_app.config.get("PORTAL_SLA_ESCALATE_HEAD_MINUTES", DEFAULT_HEAD_MINUTES)))
    qm = max(head, int(current_app.config.get("PORTAL_SLA_ESCALATE_QM_MINUTES", DEFAULT_QM_MINUTES)))
    return head, qm


def working_hours_of(department_id: int | None) -> WorkingHours:
    """The department's working hours: the portal's for every department (no per-department setting exists)."""
    return default_working_hours()


# -- the steps ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """A pending step: fires once ``minutes`` business minutes have elapsed since ``received_at``."""

    key: str | int  # FIRST_RESPONSE, a warning's per cent, or "escalation:N"
    minutes: int


def _escalation_key(level: int) -> str:
    return f"escalation:{level}"


def pending_steps(policy: Policy, *, responded: bool, warned=(), escalation: int = 0) -> list[Step]:
    """The steps not fired yet (``warned``: ``Ticket.sla_warned``; ``escalation``: the rung reached), earliest
    first."""
    warned = set(warned or ())
    target = policy.resolution_minutes
    steps = []
    if not responded and FIRST_RESPONSE not in warned:
        steps.append(Step(FIRST_RESPONSE, policy.first_response_minutes))
    steps += [Step(t, math.ceil(t * target / 100)) for t in policy.warn_at if t < BREACH and t not in warned]
    head, qm = escalation_minutes()
    for level, minutes in ((1, target), (2, target + head), (3, target + qm)):
        if escalation < level:
            steps.append(Step(_escalation_key(level), minutes))
    return sorted(steps, key=lambda s: s.minutes)


def _pending(ticket: Ticket, policy: Policy) -> list[Step]:
    return pending_steps(policy, responded=ticket.first_response_at is not None, warned=ticket.sla_warned,
                         escalation=ticket.escalation)


def _pauses_of(ticket_ids) -> dict[int, list[clock.Pause]]:
    out: dict[int, list[clock.Pause]] = defaultdict(list)
    ids = sorted(set(ticket_ids))
    for row in db.session.execute(sa.select(TicketPause.ticket_id, TicketPause.paused_at, TicketPause.resumed_at)
                                  .where(TicketPause.ticket_id.in_(ids or [-1]))):
        out[row.ticket_id].append((row.paused_at, row.resumed_at))
    return out


def deadlines(priority: str, received_at: datetime) -> dict:
    """The SLA columns of a ticket just opened: both deadlines and the next moment to look at."""
    policy = policy_for(priority)
    calendar, hours = WorkCalendar(), working_hours_of(None)
    first = pending_steps(policy, responded=False)[0]
    return {"first_response_due_at": clock.due_at(received_at, policy.first_response_minutes, (), hours, calendar),
            "resolution_due_at": clock.due_at(received_at, policy.resolution_minutes, (), hours, calendar),
            "sla_next_check_at": clock.due_at(received_at, first.minutes, (), hours, calendar)}


def after_status_change(ticket: Ticket) -> None:
    """Called by ``services.set_status`` once the status (and the pause rows) changed: a ticket running again
    gets its resolution deadline moved by its pauses, and its next moment recomputed (a first response drops that
    step). Paused and finished tickets are outside the scan's index; nothing to do."""
    if ticket.status not in RUNNING:
        return
    policy, calendar = policy_for(ticket.priority), WorkCalendar()
    hours, pauses = working_hours_of(ticket.department_id), _pauses_of([ticket.id])[ticket.id]
    steps = _pending(ticket, policy)
    ticket.resolution_due_at = clock.due_at(ticket.received_at, policy.resolution_minutes, pauses, hours, calendar)
    ticket.sla_next_check_at = (clock.due_at(ticket.received_at, steps[0].minutes, pauses, hours, calendar)
                                if steps else None)
    db.session.flush()


# -- countdown ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Countdown:
    """Business minutes left of the resolution target (negative once breached), and how the queue shows it."""

    minutes: int
    percent: int
    paused: bool
    text: str

    @property
    def breached(self) -> bool:
        return self.minutes < 0 or (self.minutes == 0 and self.percent >= BREACH)

    @property
    def at_risk(self) -> bool:
        return self.percent >= AT_RISK_PERCENT


def format_duration(minutes: int) -> str:
    hours, rest = divmod(abs(minutes), 60)
    if hours:
        return _("%(h)d h %(m)d min", h=hours, m=rest)
    return _("%(m)d min", m=rest)


def _countdown_text(minutes: int, paused: bool) -> str:
    if minutes < 0:
        return _("%(time)s overdue (working time)", time=format_duration(minutes))
    if paused:
        return _("Paused, %(time)s left (working time)", time=format_duration(minutes))
    return _("%(time)s left (working time)", time=format_duration(minutes))


def countdowns(tickets, now: datetime | None = None) -> dict[int, Countdown]:
    """ticket id → Countdown of the open ones among ``tickets`` (for a page of the queue: three queries, one
    calendar for all). A finished ticket has none."""
    now = now or utcnow()
    tickets = [t for t in tickets if t.status in OPEN_STATUSES]
    if not tickets:
        return {}
    all_policies, calendar = policies(), WorkCalendar()
    pauses = _pauses_of(t.id for t in tickets)
    out = {}
    for ticket in tickets:
        target = all_policies[ticket.priority].resolution_minutes
        used = clock.elapsed(ticket.received_at, now, pauses[ticket.id], working_hours_of(ticket.department_id),
                             calendar)
        paused = ticket.paused_at is not None
        left = target - used
        out[ticket.id] = Countdown(left, used * 100 // target, paused, _countdown_text(left, paused))
    return out


def countdown(ticket: Ticket, now: datetime | None = None) -> Countdown | None:
    """The ticket's countdown in 工作时间 (e.g. "剩余 3 小时 20 分（工作时间）"); None once it is resolved or closed."""
    return countdowns([ticket], now).get(ticket.id)


# -- the scan -------------------------------------------------------------------------------------
def due_query(now: datetime, limit: int = SCAN_BATCH):
    """The scan's query: open, running tickets whose next moment has passed (the partial index
    ``ix_ticket_sla_next_check``), earliest first."""
    return (sa.select(Ticket).where(_RUNNING_SQL, Ticket.sla_next_check_at <= now)
            .order_by(Ticket.sla_next_check_at, Ticket.id).limit(limit))


def quality_managers() -> list[User]:
    return active_users_with_role(QUALITY_MANAGER)


@dataclass
class _Context:
    now: datetime
    calendar: WorkCalendar
    policies: dict[str, Policy]
    users: dict[int, User]
    heads: dict[int, User | None]
    names: dict[int, str]
    _qms: list[User] | None = None

    def quality_managers(self) -> list[User]:
        if self._qms is None:
            self._qms = quality_managers()
        return self._qms


def _context(tickets: list[Ticket], now: datetime, calendar: WorkCalendar, all_policies) -> _Context:
    departments = db.session.execute(sa.select(Department.id, Department.name, Department.head_id).where(
        Department.id.in_(sorted({t.department_id for t in tickets}) or [-1]))).all()
    user_ids = {t.assignee_id for t in tickets if t.assignee_id} | {d.head_id for d in departments if d.head_id}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(sorted(user_ids) or [-1])))}
    return _Context(now, calendar, all_policies, users, {d.id: users.get(d.head_id) for d in departments},
                    {d.id: d.name for d in departments})


def _label(ticket: Ticket) -> str:
    return f"#{ticket.feedback_id}"


def _messages(ticket: Ticket, fired: list, ctx: _Context) -> list[Message]:
    """The notifications of the steps just claimed: the most urgent warning to the person working the ticket,
    then each escalation beyond the first to its rung."""
    from portal.triage.services import ticket_path

    worker = ctx.users.get(ticket.assignee_id) or ctx.heads.get(ticket.department_id)
    link, label, department = ticket_path(ticket.id), _label(ticket), ctx.names.get(ticket.department_id, "")
    keys = set(fired)
    key = f"triage.sla:{ticket.id}"

    def message(recipients, kind, title, step) -> Message:
        return Message(recipients, kind, title, "", link, ticket.department_id, f"{key}:{step}")

    out = []
    if _escalation_key(1) in keys:
        out.append(message([worker], KIND_WARNING, _("Ticket %(ticket)s is past its resolution target",
                                                     ticket=label), "breach"))
    else:
        warnings = sorted(k for k in keys if isinstance(k, int))
        if warnings:
            out.append(message([worker], KIND_WARNING,
                               _("Ticket %(ticket)s has used %(percent)d%% of its resolution target", ticket=label,
                                 percent=warnings[-1]), warnings[-1]))
    if FIRST_RESPONSE in keys:
        out.append(message([worker], KIND_WARNING,
                           _("Ticket %(ticket)s has had no first response in time", ticket=label), FIRST_RESPONSE))
    if _escalation_key(2) in keys:
        out.append(message([ctx.heads.get(ticket.department_id)], KIND_ESCALATED,
                           _("Escalated: ticket %(ticket)s of %(department)s is still past its resolution target",
                             ticket=label, department=department), _escalation_key(2)))
    if _escalation_key(3) in keys:
        out.append(message(ctx.quality_managers(), KIND_ESCALATED,
                           _("Escalated to quality management: ticket %(ticket)s of %(department)s is long past "
                             "its resolution target", ticket=label, department=department), _escalation_key(3)))
    return out


@dataclass(frozen=True)
class _Fired:
    """A ticket whose steps one scan claimed: what to notify and audit."""

    ticket: Ticket
    steps: list
    escalation: int
    elapsed: int


def _advance(ticket: Ticket, pauses: list[clock.Pause], ctx: _Context) -> _Fired | None:
    """Claim the ticket's steps that are due at ``ctx.now`` (one conditional UPDATE) and move its next moment.
    Returns what was claimed, or None when nothing was due or another scan claimed it first; the caller
    notifies and audits (``_announce``, for a whole batch at once)."""
    policy = ctx.policies[ticket.priority]
    hours = working_hours_of(ticket.department_id)
    steps = _pending(ticket, policy)
    used = clock.elapsed(ticket.received_at, ctx.now, pauses, hours, ctx.calendar)
    fired = [s.key for s in steps if s.minutes <= used]
    later = [s for s in steps if s.minutes > used]
    if ticket.is_spam:  # hidden from the queue: nobody is warned, and the scan stops looking at it
        fired, later = [], []
    warned = list(ticket.sla_warned or [])
    escalation = ticket.escalation
    for key in fired:
        if isinstance(key, str) and key.startswith("escalation:"):
            escalation = max(escalation, int(key.split(":")[1]))
            if key == _escalation_key(1):
                warned.append(BREACH)
        else:
            warned.append(key)
    next_at = clock.due_at(ticket.received_at, later[0].minutes, pauses, hours, ctx.calendar) if later else None
    claimed = db.session.execute(
        sa.update(Ticket).where(Ticket.id == ticket.id, _RUNNING_SQL,
                                Ticket.sla_next_check_at == ticket.sla_next_check_at,
                                Ticket.escalation == ticket.escalation)
        .values(sla_warned=warned, escalation=escalation, sla_next_check_at=next_at),
        execution_options={"synchronize_session": False}).rowcount
    if not claimed or not fired:
        return None
    return _Fired(ticket, fired, escalation, used)


def _announce(claimed: list[_Fired], ctx: _Context) -> None:
    """The notifications and audit events of a batch's claimed steps, written together: a fixed number of
    statements for the batch (``notify_each``, ``record_many``), not a few per ticket."""
    if not claimed:
        return
    notify_each([m for f in claimed for m in _messages(f.ticket, f.steps, ctx)], now=ctx.now)
    record_many([dict(action="triage.sla_step", actor=None, object_type="ticket", object_id=f.ticket.id,
                      before={"escalation": f.ticket.escalation}, after={"escalation": f.escalation},
                      extra={"steps": [str(k) for k in f.steps], "elapsed_minutes": f.elapsed})
                 for f in claimed])


def scan(now: datetime | None = None) -> dict:
    """The job's work: every due ticket's steps, fired once (see the module's docstring). Flushes, never
    commits. Statements per batch of up to 500 due tickets: a fixed number (the tickets, their pauses, their
    departments and people, the quality managers when a ticket reaches them, then for the whole batch the
    notifications — dedupe keys, preferences, settings, the rows, the deliveries — and the audit events), plus
    one per due ticket (its claim)."""
    now = now or utcnow()
    calendar, all_policies = WorkCalendar(), policies()
    result = {"due": 0, "fired": 0, "steps": 0}
    after: tuple[datetime, int] | None = None
    while result["due"] < SCAN_MAX:
        query = due_query(now)
        if after is not None:
            query = query.where(sa.tuple_(Ticket.sla_next_check_at, Ticket.id) > after)
        tickets = list(db.session.scalars(query))
        if not tickets:
            break
        pauses = _pauses_of(t.id for t in tickets)
        ctx = _context(tickets, now, calendar, all_policies)
        claimed = [f for f in (_advance(t, pauses[t.id], ctx) for t in tickets) if f is not None]
        _announce(claimed, ctx)
        result["fired"] += len(claimed)
        result["steps"] += sum(len(f.steps) for f in claimed)
        result["due"] += len(tickets)
        after = (tickets[-1].sla_next_check_at, tickets[-1].id)
        if len(tickets) < SCAN_BATCH:
            break
    db.session.expire_all()  # the claims went around the session
    db.session.flush()
    return result


# -- my SLA at risk: digest section and to-do -----------------------------------------------------
def at_risk(user_ids, now: datetime | None = None) -> dict[int, list[tuple[Ticket, Countdown]]]:
    """user id → their assigned open tickets past ``AT_RISK_PERCENT`` of the resolution target (breached
    included), the least time left first. Four queries whatever the number of users (tickets, pauses, policies,
    calendar overrides)."""
    ids = sorted(set(user_ids))
    tickets = list(db.session.scalars(sa.select(Ticket).where(
        Ticket.assignee_id.in_(ids or [-1]), Ticket.status.in_(OPEN_STATUSES), Ticket.is_spam.is_(False))))
    clocks = countdowns(tickets, now)
    out: dict[int, list[tuple[Ticket, Countdown]]] = defaultdict(list)
    for ticket in tickets:
        if clocks[ticket.id].at_risk:
            out[ticket.assignee_id].append((ticket, clocks[ticket.id]))
    for items in out.values():
        items.sort(key=lambda pair: (pair[1].minutes, pair[0].id))
    return out


def digest_at_risk(users, day) -> dict:
    """我的工单时限预警: each user's assigned tickets past 75% of their target or breached."""
    from portal.triage.services import BASE_PATH, ticket_path

    out = {}
    for user_id, items in at_risk([u.id for u in users]).items():
        rows = [DigestItem(title=_("Ticket %(ticket)s", ticket=_label(t)), link=ticket_path(t.id), detail=c.text)
                for t, c in items]
        if len(rows) > DIGEST_MAX:
            rows = rows[:DIGEST_MAX] + [DigestItem(title=_("… and %(n)d more", n=len(rows) - DIGEST_MAX),
                                                   link=f"{BASE_PATH}/")]
        out[user_id] = rows
    return out


def todos(user) -> list:
    from portal.triage.services import ticket_path

    if not user.active:
        return []
    return [TodoItem(title=_("Ticket %(ticket)s is near or past its target", ticket=_label(t)),
                     url=ticket_path(t.id), category=_("Tickets"), detail=c.text, urgent=c.breached)
            for t, c in at_risk([user.id]).get(user.id, [])]


def register() -> None:
    """What the SLA part plugs in (called from hooks.setup())."""
    from portal.triage import jobs

    register_kind(KIND_WARNING, _l("Service-level warnings on my tickets"))
    register_kind(KIND_ESCALATED, _l("Tickets escalated past their service level"))
    register_digest_section("triage.sla_at_risk", _l("My tickets near or past their target"), digest_at_risk,
                            order=30)
    register_todo_provider("triage.sla_at_risk", todos, order=30)
    register_cron("triage_sla_scan", jobs.sla_scan, cron="*/2 * * * *")
