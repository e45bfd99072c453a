"""What the audit domain plugs in: the audit-trail viewer for administrators and quality managers, and the
daily anchor of the chain's head (instance/audit-anchors.log)."""
from flask_babel import lazy_gettext as _l

from portal.audit import bp
from portal.audit.jobs import anchor_audit_chain
from portal.core.registry import register_cron
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    register_nav(NavEntry(_l("Audit trail"), "audit.index", (ADMIN, QUALITY_MANAGER), "admin"), order=40)
    # Shortly before the digest is built (PORTAL_DIGEST_TIME, 08:30 by default), so the digest shows the head
    # as it stood at the end of the night; rq cron runs in Asia/Shanghai time.
    register_cron("audit_anchor", anchor_audit_chain, cron="5 0 * * *")
