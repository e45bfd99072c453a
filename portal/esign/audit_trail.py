"""How electronic signatures read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_pgettext

from portal.audit.registry import (object_type_label, register_action_labels, register_field_labels,
                                   register_object_type)
from portal.esign.services import MEANINGS


def register() -> None:
    register_action_labels({
        "esign.sign": lazy_pgettext("audit action", "Signed electronically"),
        "esign.failed": lazy_pgettext("audit action", "Electronic signature refused"),
    })
    register_object_type("signature", lazy_pgettext("audit object", "Electronic signature"))
    register_field_labels({
        "meaning": lazy_pgettext("audit field", "Meaning of the signature"),
        "content_sha256": lazy_pgettext("audit field", "Content fingerprint"),
        "object_type": lazy_pgettext("audit field", "Signed record type"),
        "object_id": lazy_pgettext("audit field", "Signed record"),
        "signature_id": lazy_pgettext("audit object", "Electronic signature"),
        "signer_name": lazy_pgettext("audit field", "Signer"),
        "comment_sha256": lazy_pgettext("audit field", "Comment fingerprint"),
    }, values={"meaning": MEANINGS, "object_type": object_type_label})
