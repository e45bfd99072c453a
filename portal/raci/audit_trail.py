"""How matrix changes read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type


def register() -> None:
    register_action_labels({
        "raci.cell": lazy_pgettext("audit action", "Changed a matrix cell"),
        "raci_import.upload": lazy_pgettext("audit action", "Uploaded a matrix file"),
        "raci_import.apply": lazy_pgettext("audit action", "Applied a matrix import"),
    })
    register_object_type("raci_cell", lazy_pgettext("audit object", "Matrix cell"),
                         fields={"role": lazy_pgettext("audit field", "Responsibility"),
                                 "changes": lazy_pgettext("audit field", "Changes")})
