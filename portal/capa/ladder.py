"""Overdue CAPA actions (逾期整改措施): the ladder, the digest section 我的纠正预防措施 and the to-dos.

**The ladder** (``run_overdue``, the daily job ``capa_overdue_actions`` at 07:45 Asia/Shanghai): on working days
(``portal.workcal``), each open action past its due date climbs one step at a time, each step once
(``CapaAction.escalation``, claimed by a conditional UPDATE, so a second run or a racing one sends nothing twice):

1. overdue at all — its owner is told;
2. ``PORTAL_CAPA_ESCALATE_HEAD_DAYS`` (3) working days overdue — the head of the CAPA's department;
3. ``PORTAL_CAPA_ESCALATE_QM_DAYS`` (7) working days overdue — every active quality manager.

*Working days overdue* are counted as training's ladder counts them (``training.ladder.overdue_cutoff``). An action
that reached several thresholds while the job did not run gets each step once, in order.

**To-dos**: the reader's open actions (overdue first), and for quality managers the CAPAs ready to close (every
action done and an effectiveness result).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels
from portal.audit.services import record
from portal.capa.services import BASE_PATH, capa_path, users_by_id
from portal.capa.models import (ACTION_OPEN, CHECKING, EFFECTIVE, LADDER_HEAD, LADDER_OWNER, LADDER_QM,
                                NOT_EFFECTIVE, Capa, CapaAction)
from portal.core.registry import register_cron
from portal.core.roles import QUALITY_MANAGER
from portal.extensions import db
from portal.home.registry import TodoItem, register_todo_provider
from portal.notify.registry import DigestItem, register_digest_section, register_kind
from portal.notify.services import notify_many
from portal.org.models import Department
from portal.org.services import active_users_with_role
from portal.training.ladder import overdue_cutoff
from portal.workcal.services import WorkCalendar, local_today

KIND_OVERDUE = "capa.action_overdue"
KIND_ESCALATED = "capa.action_escalated"
DEFAULT_HEAD_DAYS, DEFAULT_QM_DAYS = 3, 7
#: Items of the digest section for one person, at most (a last item says how many more).
DIGEST_MAX = 20


def escalation_days() -> tuple[int, int]:
    """(head, quality managers): working days overdue before each hears of it; the managers never before the head."""
    head = max(1, int(current_app.config.get("PORTAL_CAPA_ESCALATE_HEAD_DAYS", DEFAULT_HEAD_DAYS)))
    qm = max(head, int(current_app.config.get("PORTAL_CAPA_ESCALATE_QM_DAYS", DEFAULT_QM_DAYS)))
    return head, qm


@dataclass(frozen=True)
class Climbed:
    id: int
    capa_id: int
    owner_id: int
    due_on: date
    description: str


def _climb(step: int, due_before: date) -> list[Climbed]:
    """Claim ``step`` for the open actions due before ``due_before`` that have not reached it yet."""
    rows = db.session.execute(
        sa.update(CapaAction)
        .where(CapaAction.status == ACTION_OPEN, CapaAction.escalation < step, CapaAction.due_on < due_before)
        .values(escalation=step)
        .returning(CapaAction.id, CapaAction.capa_id, CapaAction.owner_id, CapaAction.due_on,
                   CapaAction.description),
        execution_options={"synchronize_session": False}).all()
    return sorted((Climbed(*row) for row in rows), key=lambda c: c.id)


def _capas(climbed: list[Climbed]) -> dict[int, tuple[str, int, int | None, str]]:
    """capa id → (title, department id, its head's id, department name)."""
    rows = db.session.execute(
        sa.select(Capa.id, Capa.title, Capa.department_id, Department.head_id, Department.name)
        .join(Department, Department.id == Capa.department_id)
        .where(Capa.id.in_(sorted({c.capa_id for c in climbed}) or [-1])))
    return {r.id: (r.title, r.department_id, r.head_id, r.name) for r in rows}


def _short(text: str, limit: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _notify(climbed: list[Climbed], step: int, days: int) -> int:
    if not climbed:
        return 0
    capas = _capas(climbed)
    heads = {c[2] for c in capas.values()}
    users = users_by_id({c.owner_id for c in climbed} | heads)
    managers = active_users_with_role(QUALITY_MANAGER) if step == LADDER_QM else []
    sent = 0
    for item in climbed:
        title_of_capa, department_id, head_id, department = capas[item.capa_id]
        what = _short(item.description)
        if step == LADDER_OWNER:
            recipients, kind = [users.get(item.owner_id)], KIND_OVERDUE
            title = _("Your corrective action is overdue: %(action)s (due %(day)s)", action=what,
                      day=item.due_on.isoformat())
        elif step == LADDER_HEAD:
            recipients, kind = [users.get(head_id)], KIND_ESCALATED
            title = _("Escalated: an action of %(department)s is %(days)d or more working days overdue: %(action)s",
                      department=department, days=days, action=what)
        else:
            recipients, kind = managers, KIND_ESCALATED
            title = _("Escalated to quality management: an action of %(department)s is %(days)d or more working days "
                      "overdue: %(action)s", department=department, days=days, action=what)
        owner = users.get(item.owner_id)
        body = _("Corrective action: %(title)s\nOwner: %(owner)s\nDue by: %(day)s", title=title_of_capa,
                 owner=owner.display_name if owner else "—", day=item.due_on.isoformat())
        sent += len(notify_many(recipients, kind, title, body, capa_path(item.capa_id), department_id=department_id,
                                dedupe_key=f"capa.action:{item.id}:step:{step}"))
    return sent


def run_overdue(today: date | None = None) -> dict:
    """The daily job's work (see the module's docstring); flushes, never commits. Returns its counts."""
    today = today or local_today()
    calendar = WorkCalendar()
    result = {"owner": 0, "head": 0, "quality_manager": 0, "sent": 0, "workday": calendar.is_workday(today)}
    if result["workday"]:
        head_days, qm_days = escalation_days()
        for step, key, cutoff, days in (
                (LADDER_OWNER, "owner", today, 0),
                (LADDER_HEAD, "head", overdue_cutoff(today, head_days, calendar), head_days),
                (LADDER_QM, "quality_manager", overdue_cutoff(today, qm_days, calendar), qm_days)):
            climbed = _climb(step, cutoff)
            result["sent"] += _notify(climbed, step, days)
            result[key] = len(climbed)
    db.session.expire_all()  # the UPDATEs went around the session
    if result["owner"] or result["head"] or result["quality_manager"]:
        record("capa.overdue_ladder", actor=None, extra={**result, "day": today.isoformat()})
    db.session.flush()
    return result


# -- my CAPA actions: digest and to-dos -----------------------------------------------------------
def _due_detail(due_on: date, day: date) -> str:
    if due_on < day:
        return _("Overdue since %(day)s", day=due_on.isoformat())
    return _("Due by %(day)s", day=due_on.isoformat())


def open_actions_of(user_ids):
    """The open actions of ``user_ids`` with their CAPA's title, the earliest due first (overdue first). One
    query."""
    return db.session.execute(
        sa.select(CapaAction.id, CapaAction.owner_id, CapaAction.capa_id, CapaAction.description, CapaAction.due_on,
                  Capa.title)
        .join(Capa, Capa.id == CapaAction.capa_id)
        .where(CapaAction.owner_id.in_(sorted(set(user_ids)) or [-1]), CapaAction.status == ACTION_OPEN)
        .order_by(CapaAction.due_on, CapaAction.id)).all()


def digest_my_actions(users, day: date) -> dict[int, list[DigestItem]]:
    """我的纠正预防措施: each user's open CAPA actions, overdue first. One query per batch of users."""
    out: dict[int, list[DigestItem]] = defaultdict(list)
    for row in open_actions_of(u.id for u in users):
        out[row.owner_id].append(DigestItem(title=f"{row.title}: {_short(row.description)}",
                                            link=capa_path(row.capa_id), detail=_due_detail(row.due_on, day)))
    return {uid: items if len(items) <= DIGEST_MAX else items[:DIGEST_MAX] + [
        DigestItem(title=_("… and %(n)d more", n=len(items) - DIGEST_MAX), link=f"{BASE_PATH}/?mine=1")]
        for uid, items in out.items()}


def _my_todos(user) -> list[TodoItem]:
    if not user.active:
        return []
    today = local_today()
    return [TodoItem(title=_("Corrective action: %(action)s", action=_short(row.description)),
                     url=capa_path(row.capa_id), category=_("Corrective actions"),
                     detail=f"{row.title} · {_due_detail(row.due_on, today)}", urgent=row.due_on < today)
            for row in open_actions_of([user.id])]


def ready_to_close_query():
    """CAPAs awaiting the quality manager: every action done and an effectiveness result."""
    return sa.select(Capa.id, Capa.title, Capa.effectiveness).where(
        Capa.status == CHECKING, Capa.effectiveness.in_([EFFECTIVE, NOT_EFFECTIVE]),
        ~sa.exists().where(CapaAction.capa_id == Capa.id, CapaAction.status == ACTION_OPEN)).order_by(Capa.id)


def _close_todos(user) -> list[TodoItem]:
    if not (user.active and user.has_role(QUALITY_MANAGER)):
        return []
    return [TodoItem(title=_("Close the corrective action %(title)s", title=row.title), url=capa_path(row.id),
                     category=_("Corrective actions"), detail=_("The effectiveness check has a result."))
            for row in db.session.execute(ready_to_close_query())]


def register() -> None:
    """What this part plugs in (called from hooks.setup())."""
    from portal.capa import jobs

    register_kind(KIND_OVERDUE, _l("My overdue corrective actions"))
    register_kind(KIND_ESCALATED, _l("Overdue corrective actions of my department or the company"))
    register_digest_section("capa.my_actions", _l("My corrective actions"), digest_my_actions, order=45)
    register_todo_provider("capa.my_actions", _my_todos, order=45)
    register_todo_provider("capa.ready_to_close", _close_todos, order=46)
    register_cron("capa_overdue_actions", jobs.overdue_actions, cron="45 7 * * *")
    register_action_labels({
        "capa.overdue_ladder": lazy_pgettext("audit action", "Ran the overdue corrective-action ladder"),
    })
