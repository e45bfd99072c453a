"""How the login events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels


def register() -> None:
    register_action_labels({
        "auth.login": lazy_pgettext("audit action", "Signed in"),
        "auth.login_failed": lazy_pgettext("audit action", "Sign-in failed"),
        "auth.login_locked": lazy_pgettext("audit action", "Sign-in refused: locked"),
        "auth.logout": lazy_pgettext("audit action", "Signed out"),
        "auth.logout_everywhere": lazy_pgettext("audit action", "Signed out everywhere"),
        "auth.password_changed": lazy_pgettext("audit action", "Changed password"),
    })
    register_field_labels({"sessions": lazy_pgettext("audit field", "Sessions ended")})
