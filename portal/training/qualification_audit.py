"""How qualification events read in the audit trail (called from qualifications.register())."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.extensions import db
from portal.org.models import User
from portal.training.models import Certificate, QualificationType


def _types(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(QualificationType.id, QualificationType.name)
                              .where(QualificationType.id.in_(ids)))
    return {r.id: (r.name, url_for("training.qualification_type_edit", type_id=r.id)) for r in rows}


def _certificates(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(Certificate.id, Certificate.number, Certificate.user_id, QualificationType.name,
                  User.display_name)
        .join(QualificationType, QualificationType.id == Certificate.type_id)
        .join(User, User.id == Certificate.user_id).where(Certificate.id.in_(ids)))
    return {r.id: (f"{r.display_name} · {r.name} {r.number}",
                   url_for("training.qualification_person", user_id=r.user_id)) for r in rows}


def register() -> None:
    register_action_labels({
        "qualification.type_create": lazy_pgettext("audit action", "Created a qualification type"),
        "qualification.type_update": lazy_pgettext("audit action", "Edited a qualification type"),
        "qualification.type_active": lazy_pgettext("audit action", "Activated or deactivated a qualification type"),
        "qualification.certificate_add": lazy_pgettext("audit action", "Recorded a certificate"),
        "qualification.certificate_update": lazy_pgettext("audit action", "Edited a certificate"),
        "qualification.certificate_revoke": lazy_pgettext("audit action", "Withdrew a certificate"),
    })
    register_object_type("qualification_type", _l("Qualification type"), resolve=_types,
                         link_roles=(ADMIN, QUALITY_MANAGER), fields={
        "name": lazy_pgettext("audit field", "Name"),
        "validity_months": lazy_pgettext("audit field", "Validity (months)"),
        "description": lazy_pgettext("audit field", "Description"),
        "positions": lazy_pgettext("audit field", "Required of positions"),
    })
    register_object_type("qualification_certificate", _l("Certificate"), resolve=_certificates, fields={
        "type_id": _l("Qualification type"),
        "number": lazy_pgettext("audit field", "Certificate number"),
        "issuer": lazy_pgettext("audit field", "Issuer"),
        "issued_on": lazy_pgettext("audit field", "Date of issue"),
        "expires_on": lazy_pgettext("audit field", "Expiry date"),
        "scan_sha256": lazy_pgettext("audit field", "Scan fingerprint"),
        "revoked": lazy_pgettext("audit field", "Withdrawn"),
        "reason": lazy_pgettext("audit field", "Reason"),
    }, values={"type_id": "qualification_type"})
