"""What the organisation domain plugs in: the admin pages for users, departments and the roster import,
and the demo organisation every other demo seeder builds on."""
from flask_babel import lazy_gettext as _l

from portal.core.registry import register_demo_seeder
from portal.core.roles import ADMIN
from portal.org import bp, demo
from portal.web.nav import NavEntry, register_nav
from portal.org import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Users"), "org.users", (ADMIN,), "admin"), order=10)
    register_nav(NavEntry(_l("Departments"), "org.departments", (ADMIN,), "admin"), order=20)
    register_nav(NavEntry(_l("Roster import"), "org.roster_import", (ADMIN,), "admin"), order=30)
    register_demo_seeder("organisation", demo.seed, order=10)
