"""How electronic signatures read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels, register_object_type


def register() -> None:
    register_action_labels({
        "esign.sign": lazy_pgettext("audit action", "Signed electronically"),
        "esign.failed": lazy_pgettext("audit action", "Electronic signature refused"),
    })
    register_object_type("signature", lazy_pgettext("audit object", "Electronic signature"))
    register_field_labels({"meaning": lazy_pgettext("audit field", "Meaning of the signature"),
                           "content_sha256": lazy_pgettext("audit field", "Content fingerprint")})
