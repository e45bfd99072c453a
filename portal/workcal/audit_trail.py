"""How calendar changes read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type


def register() -> None:
    register_action_labels({
        "calendar.override_set": lazy_pgettext("audit action", "Set a calendar day"),
        "calendar.override_delete": lazy_pgettext("audit action", "Removed a calendar day"),
        "calendar.year_upload": lazy_pgettext("audit action", "Uploaded a holiday list"),
        "calendar.year_entered": lazy_pgettext("audit action", "Entered a year's holiday list"),
    })
    register_object_type("calendar_year", lazy_pgettext("audit object", "Holiday list of a year"),
                         fields={"year": lazy_pgettext("audit field", "Year"), "days": lazy_pgettext("audit field", "Days"),
                                 "changes": lazy_pgettext("audit field", "Changes")})
    register_object_type("calendar_override", lazy_pgettext("audit object", "Calendar day"), fields={
        "is_workday": lazy_pgettext("audit field", "Working day"), "note": _l("Note"),
    }, values={"is_workday": {True: lazy_pgettext("audit value", "Working day"),
                              False: lazy_pgettext("audit value", "Day off")}})
