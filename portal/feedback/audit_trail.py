"""How feedback-intake events read in the audit trail."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.extensions import db
from portal.feedback.models import (CHANNEL_LABELS, KIND_LABELS, RATING_LABELS, STATUS_LABELS, Feedback, ServicePoint,
                                    StaffCode)


def _points(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(ServicePoint.id, ServicePoint.code, ServicePoint.name)
                              .where(ServicePoint.id.in_(ids)))
    return {r.id: (f"{r.code} {r.name}", url_for("points.detail", point_id=r.id)) for r in rows}


def _staff_codes(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(StaffCode.id, StaffCode.code, StaffCode.service_point_id)
                              .where(StaffCode.id.in_(ids)))
    return {r.id: (r.code, url_for("points.detail", point_id=r.service_point_id)) for r in rows}


def _feedback(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Feedback.id).where(Feedback.id.in_(ids)))
    return {r.id: (f"#{r.id}", url_for("feedback.detail", feedback_id=r.id)) for r in rows}


def register() -> None:
    register_action_labels({
        "feedback.point_create": lazy_pgettext("audit action", "Created a service point"),
        "feedback.point_update": lazy_pgettext("audit action", "Edited a service point"),
        "feedback.point_rotate": lazy_pgettext("audit action", "Rotated a service point's QR key"),
        "feedback.staff_code_create": lazy_pgettext("audit action", "Created a staff code"),
        "feedback.staff_code_update": lazy_pgettext("audit action", "Changed a staff code"),
        "feedback.receive": lazy_pgettext("audit action", "Feedback received"),
        "feedback.spam": lazy_pgettext("audit action", "Marked feedback as spam"),
        "feedback.not_spam": lazy_pgettext("audit action", "Restored feedback marked as spam"),
        "feedback.query_code_reissue": lazy_pgettext("audit action", "Gave feedback a new follow-up code"),
        "feedback.resolution_rate": lazy_pgettext("audit action", "The customer rated the handling"),
        "feedback.reply": lazy_pgettext("audit action", "Replied to the customer"),
        "feedback.resolve": lazy_pgettext("audit action", "Marked feedback as resolved"),
        "feedback.reopen": lazy_pgettext("audit action", "Reopened resolved feedback"),
        "feedback.seed_demo": lazy_pgettext("audit action", "Loaded the demo feedback"),
    })
    fields = {
        "code": lazy_pgettext("audit field", "Code"), "name": lazy_pgettext("audit field", "Name"),
        "location": lazy_pgettext("audit field", "Location"),
        "department_id": lazy_pgettext("audit field", "Department"),
        "process_id": lazy_pgettext("audit field", "Process"),
        "opening_hours": lazy_pgettext("audit field", "Opening hours"),
        "categories": lazy_pgettext("audit field", "Categories"), "active": lazy_pgettext("audit field", "Active"),
    }
    register_object_type("service_point", lazy_pgettext("audit object", "Service point"), resolve=_points,
                         link_roles=(ADMIN, QUALITY_MANAGER, DEPT_HEAD), fields=fields,
                         values={"department_id": "department", "process_id": "process"})
    register_object_type("staff_code", lazy_pgettext("audit object", "Staff code"), resolve=_staff_codes,
                         link_roles=(ADMIN, QUALITY_MANAGER, DEPT_HEAD),
                         fields={"code": lazy_pgettext("audit field", "Code"),
                                 "user_id": lazy_pgettext("audit field", "Employee"),
                                 "service_point_id": lazy_pgettext("audit field", "Service point"),
                                 "active": lazy_pgettext("audit field", "Active")},
                         values={"user_id": "user", "service_point_id": "service_point"})
    register_object_type("feedback", lazy_pgettext("audit object", "Feedback"), resolve=_feedback,
                         link_roles=(ADMIN, QUALITY_MANAGER, DEPT_HEAD),
                         fields={"channel": lazy_pgettext("audit field", "Channel"),
                                 "kind": lazy_pgettext("audit field", "Kind"),
                                 "rating": lazy_pgettext("audit field", "Rating"),
                                 "service_point_id": lazy_pgettext("audit field", "Service point"),
                                 "department_id": lazy_pgettext("audit field", "Department"),
                                 "spam": lazy_pgettext("audit field", "Spam"),
                                 "spam_reasons": lazy_pgettext("audit field", "Why"),
                                 "resolution_rating": lazy_pgettext("audit field", "Rating of the handling"),
                                 "reply": lazy_pgettext("audit field", "Reply"),
                                 "status": lazy_pgettext("audit field", "Status"),
                                 "api_token_id": lazy_pgettext("audit field", "API token"),
                                 "items": lazy_pgettext("audit field", "Items"),
                                 "period": lazy_pgettext("audit field", "Period")},
                         values={"channel": CHANNEL_LABELS, "kind": KIND_LABELS, "status": STATUS_LABELS,
                                 "rating": RATING_LABELS,
                                 "resolution_rating": RATING_LABELS, "service_point_id": "service_point",
                                 "department_id": "department", "api_token_id": "api_token"})
