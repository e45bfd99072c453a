"""What the processes domain plugs in: the process admin pages."""
from flask_babel import lazy_gettext as _l

from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes import bp
from portal.web.nav import QUALITY_MENU, NavEntry, register_nav
from portal.processes import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Processes"), "processes.index", (ADMIN, QUALITY_MANAGER), QUALITY_MENU), order=24)
