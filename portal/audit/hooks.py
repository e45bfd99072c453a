"""What the audit domain plugs in: the audit-trail viewer for administrators and quality managers."""
from flask_babel import lazy_gettext as _l

from portal.audit import bp
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    register_nav(NavEntry(_l("Audit trail"), "audit.index", (ADMIN, QUALITY_MANAGER), "admin"), order=40)
