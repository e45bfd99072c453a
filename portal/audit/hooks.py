"""What the audit domain plugs in: the audit-trail viewer for administrators and quality managers, and the
daily anchor of the chain's head (instance/audit-anchors.log)."""
from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit import bp
from portal.audit.jobs import anchor_audit_chain
from portal.audit.registry import register_field_labels
from portal.core.registry import register_cron
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    register_nav(NavEntry(_l("Audit trail"), "audit.index", (ADMIN, QUALITY_MANAGER), "admin"), order=40)
    # Shortly before the digest is built (PORTAL_DIGEST_TIME, 08:30 by default), so the digest shows the head
    # as it stood at the end of the night; rq cron runs in Asia/Shanghai time.
    register_cron("audit_anchor", anchor_audit_chain, cron="5 0 * * *")
    # Details any domain's events carry (how a change was made, files, counts).
    register_field_labels({
        "via": lazy_pgettext("audit field", "Via"),
        "filename": lazy_pgettext("audit field", "File"),
        "sha256": lazy_pgettext("audit field", "File fingerprint"),
        "changes": lazy_pgettext("audit field", "Changes"),
        "creates": lazy_pgettext("audit field", "New records"),
        "updates": lazy_pgettext("audit field", "Changed records"),
        "created": lazy_pgettext("audit field", "Created"),
        "updated": lazy_pgettext("audit field", "Updated"),
        "unchanged": lazy_pgettext("audit field", "Unchanged"),
        "recipients": lazy_pgettext("audit field", "Recipients"),
        "title": _l("Title"),
        "reason": lazy_pgettext("audit field", "Reason"),
    }, values={"via": {
        "seed-demo": lazy_pgettext("audit value", "Demo data"),
        "cli": lazy_pgettext("audit value", "Command line"),
        "import": lazy_pgettext("audit value", "Spreadsheet import"),
        "automatic": lazy_pgettext("audit value", "Automatic measurement"),
    }})
