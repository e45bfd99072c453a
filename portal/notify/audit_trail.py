"""How the notification domain's events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels, register_object_type


def register() -> None:
    register_action_labels({
        "notify.announcement": lazy_pgettext("audit action", "Sent an announcement"),
        "notify.settings_update": lazy_pgettext("audit action", "Changed notification settings"),
        "notify.preference_set": lazy_pgettext("audit action", "Changed a notification preference"),
        "job.retry": lazy_pgettext("audit action", "Retried a job"),
        "delivery.retry": lazy_pgettext("audit action", "Retried a delivery"),
        "webhook.create": lazy_pgettext("audit action", "Added a group-chat robot"),
        "webhook.update": lazy_pgettext("audit action", "Edited a group-chat robot"),
        "webhook.allowlist_update": lazy_pgettext("audit action", "Changed the allowed robot hosts"),
    })
    register_object_type("announcement", _l("Announcement"))
    register_field_labels({"func": lazy_pgettext("audit field", "Job"),
                           "password_changed": lazy_pgettext("audit field", "Password changed"),
                           "dedupe_key": lazy_pgettext("audit field", "Reminder key")})
    register_object_type("notify_settings", _l("Notification settings"))
    register_object_type("notification_preference", lazy_pgettext("audit object", "Notification preference"),
                         fields={"mode": lazy_pgettext("audit field", "Delivery")})
    register_object_type("rq_job", lazy_pgettext("audit object", "Background job"))
    register_object_type("delivery", lazy_pgettext("audit object", "Delivery"))
    register_object_type("webhook", lazy_pgettext("audit object", "Group-chat robot"), fields={
        "department_id": _l("Department"), "platform": lazy_pgettext("audit field", "Platform"),
        "url": lazy_pgettext("audit field", "Address"), "active": _l("Active"),
    }, values={"department_id": "department"})
    register_object_type("webhook_allowlist", _l("Allowed robot hosts"),
                         fields={"hosts": lazy_pgettext("audit field", "Hosts")})
