"""How triage events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.extensions import db
from portal.triage.loop import APPEAL_STATUS_LABELS, GROUNDS_LABELS
from portal.triage.models import PRIORITY_LABELS, STATUS_LABELS, Appeal, Incident, RoutingRule, Ticket


def _tickets(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Ticket.id, Ticket.feedback_id).where(Ticket.id.in_(ids)))
    return {r.id: (f"#{r.id}", f"/queue/{r.id}") for r in rows}


def _appeals(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Appeal.id, Ticket.feedback_id).join(Ticket, Ticket.id == Appeal.ticket_id)
                              .where(Appeal.id.in_(ids)))
    return {r.id: (f"#{r.feedback_id} / {r.id}", "") for r in rows}


def _incidents(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Incident.id).where(Incident.id.in_(ids)))
    return {r.id: (f"#{r.id}", f"/queue/incidents/{r.id}") for r in rows}


def _routing_rules(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(RoutingRule.id, RoutingRule.category).where(RoutingRule.id.in_(ids)))
    return {r.id: (r.category, "/queue/settings/routing") for r in rows}


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
        "triage.rectify": lazy_pgettext("audit action", "Recorded the rectification of a negative rating"),
        "triage.evidence": lazy_pgettext("audit action", "Attached rectification evidence to a ticket"),
        "triage.appeal": lazy_pgettext("audit action", "Appealed against a negative rating"),
        "triage.appeal_decide": lazy_pgettext("audit action", "Decided an appeal against a negative rating"),
        "triage.incident_open": lazy_pgettext("audit action", "Opened an incident for a burst of negative ratings"),
        "triage.incident_extend": lazy_pgettext("audit action", "Added a negative rating to an incident"),
        "triage.incident_close": lazy_pgettext("audit action", "Closed an incident"),
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
        "rectification_note": lazy_pgettext("audit field", "Rectification"),
        "rectified": lazy_pgettext("audit field", "Rectified"), "overdue": lazy_pgettext("audit field", "Overdue"),
        "files": lazy_pgettext("audit field", "Files"), "appeal_status": lazy_pgettext("audit field", "Appeal"),
        "appeal_id": lazy_pgettext("audit field", "Appeal number"),
        "grounds": lazy_pgettext("audit field", "Grounds"), "note": lazy_pgettext("audit field", "Note"),
        "signature_id": lazy_pgettext("audit field", "Signature"),
        "emailed_to": lazy_pgettext("audit field", "Reply emailed to"),
    }, values={"status": STATUS_LABELS, "priority": PRIORITY_LABELS, "assignee_id": "user",
               "department_id": "department", "duplicate_of_id": "ticket", "appeal_status": APPEAL_STATUS_LABELS,
               "grounds": GROUNDS_LABELS})
    register_object_type("ticket_appeal", _l("Appeal against a rating"), resolve=_appeals)
    register_object_type("incident", _l("Incident (burst of negative ratings)"), resolve=_incidents, fields={
        "tickets": lazy_pgettext("audit field", "Tickets"), "count": lazy_pgettext("audit field", "Count"),
        "note": lazy_pgettext("audit field", "Note"), "refused": lazy_pgettext("audit field", "Left open"),
        "assignee_id": lazy_pgettext("audit field", "Assignee"),
    }, values={"assignee_id": "user"})
    # The incidents' pages and the queues' settings (portal/triage/admin_views.py).
    register_action_labels({
        "triage.incident_assign": lazy_pgettext("audit action", "Assigned the open tickets of an incident"),
        "triage.incident_note": lazy_pgettext("audit action", "Added an internal note to the tickets of an incident"),
        "triage.incident_reply": lazy_pgettext("audit action", "Replied to the customers of an incident"),
        "triage.incident_resolve": lazy_pgettext("audit action",
                                                 "Resolved tickets of an incident (some are left open)"),
        "triage.incident_leave": lazy_pgettext("audit action", "A ticket left its incident for another queue"),
        "triage.routing_rule_add": lazy_pgettext("audit action", "Added a routing rule for a feedback category"),
        "triage.routing_rule_delete": lazy_pgettext("audit action", "Deleted a routing rule"),
    })
    register_object_type("routing_rule", _l("Routing rule"), resolve=_routing_rules, fields={
        "category": lazy_pgettext("audit field", "Category"),
        "department_id": lazy_pgettext("audit field", "Department"),
    }, values={"department_id": "department"})
