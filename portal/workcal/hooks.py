"""What the working-day calendar plugs in: its admin page."""
from flask_babel import lazy_gettext as _l

from portal.core.roles import ADMIN
from portal.web.nav import NavEntry, register_nav
from portal.workcal import bp
from portal.workcal import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Working-day calendar"), "workcal.month", (ADMIN,), "admin"), order=50)
