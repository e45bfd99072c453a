"""How quality policy events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.extensions import db
from portal.policy.models import STATUS_LABELS, QualityPolicy


def _policies(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(QualityPolicy.id, QualityPolicy.version, QualityPolicy.title)
                              .where(QualityPolicy.id.in_(ids)))
    return {row.id: (f"{row.title} (v{row.version})", url_for("policy.detail", policy_id=row.id)) for row in rows}


def register() -> None:
    register_action_labels({
        "policy.create": lazy_pgettext("audit action", "Drafted a policy version"),
        "policy.update": lazy_pgettext("audit action", "Edited a policy draft"),
        "policy.approve": lazy_pgettext("audit action", "Approved a policy version"),
        "policy.publish": lazy_pgettext("audit action", "Published a policy version"),
        "policy.supersede": lazy_pgettext("audit action", "Superseded a policy version"),
        "policy.acknowledge": lazy_pgettext("audit action", "Acknowledged the policy"),
        "policy.remind": lazy_pgettext("audit action", "Sent policy reminders"),
    })
    register_object_type("quality_policy", _l("Quality policy"), resolve=_policies, fields={
        "status": _l("Status"), "title": _l("Title"), "version": lazy_pgettext("audit field", "Version"),
        "body_sha256": lazy_pgettext("audit field", "Text fingerprint"),
        "based_on_version": lazy_pgettext("audit field", "Based on version"),
        "supersedes_version": lazy_pgettext("audit field", "Supersedes version"),
        "superseded_by_version": lazy_pgettext("audit field", "Superseded by version"),
        "acknowledgement_id": lazy_pgettext("audit field", "Acknowledgement no."),
    }, values={"status": STATUS_LABELS})
