"""How triage events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.extensions import db
from portal.triage.models import PRIORITY_LABELS, STATUS_LABELS, Ticket


def _tickets(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Ticket.id, Ticket.feedback_id).where(Ticket.id.in_(ids)))
    return {r.id: (f"#{r.id}", f"/queue/{r.id}") for r in rows}


def register() -> None:
    register_action_labels({
        "triage.status": lazy_pgettext("audit action", "Changed a ticket's status"),
        "triage.assign": lazy_pgettext("audit action", "Assigned a ticket"),
        "triage.reassign": lazy_pgettext("audit action", "Moved a ticket to another department's queue"),
        "triage.reply": lazy_pgettext("audit action", "Replied to the customer on a ticket"),
        "triage.note": lazy_pgettext("audit action", "Added an internal note to a ticket"),
        "triage.callback": lazy_pgettext("audit action", "Recorded a call-back to a customer"),
        "triage.merge": lazy_pgettext("audit action", "Merged a duplicate ticket"),
        "triage.spam": lazy_pgettext("audit action", "Marked a ticket as spam or not"),
        "triage.archive": lazy_pgettext("audit action", "Archived a ticket or took it out of the archive"),
        "triage.sla_step": lazy_pgettext("audit action", "Sent a ticket's service-level warning or escalation"),
        "triage.sla_policy": lazy_pgettext("audit action", "Changed the service-level targets of a priority"),
    })
    register_object_type("sla_policy", _l("Service-level policy"), fields={
        "first_response_minutes": lazy_pgettext("audit field", "First response (working minutes)"),
        "resolution_minutes": lazy_pgettext("audit field", "Resolution (working minutes)"),
        "warn_at": lazy_pgettext("audit field", "Warnings at (per cent of the target)"),
    })
    register_object_type("ticket", _l("Ticket"), resolve=_tickets, fields={
        "status": _l("Status"), "assignee_id": lazy_pgettext("audit field", "Assignee"),
        "department_id": lazy_pgettext("audit field", "Department"),
        "reason": lazy_pgettext("audit field", "Reason"), "outcome": lazy_pgettext("audit field", "Outcome"),
        "called_at": lazy_pgettext("audit field", "Called at"),
        "duplicate_of_id": lazy_pgettext("audit field", "Duplicate of"),
        "is_spam": lazy_pgettext("audit field", "Spam"), "archived": lazy_pgettext("audit field", "Archived"),
        "priority": lazy_pgettext("audit field", "Priority"), "event_id": lazy_pgettext("audit field", "Entry"),
        "escalation": lazy_pgettext("audit field", "Escalation level"),
        "steps": lazy_pgettext("audit field", "Steps"),
        "elapsed_minutes": lazy_pgettext("audit field", "Working minutes elapsed"),
    }, values={"status": STATUS_LABELS, "priority": PRIORITY_LABELS, "assignee_id": "user",
               "department_id": "department", "duplicate_of_id": "ticket"})
