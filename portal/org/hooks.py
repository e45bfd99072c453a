"""What the organisation domain plugs in: the admin pages for users, departments and the roster import,
and the demo organisation every other demo seeder builds on."""
from flask_babel import lazy_gettext as _l

from portal.core.registry import register_demo_seeder
from portal.core.roles import ADMIN
from portal.org import bp, demo, roster
from portal.web.nav import NavEntry, register_nav
from portal.org import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Users"), "org.users", (ADMIN,), "admin"), order=10)
    register_nav(NavEntry(_l("Departments"), "org.departments", (ADMIN,), "admin"), order=20)
    register_nav(NavEntry(_l("Roster import"), "org.roster_import", (ADMIN,), "admin"), order=30)
    register_demo_seeder("organisation", demo.seed, order=10)


def init_app(app) -> None:
    # The roster preview's 字段：旧值 → 新值 in words (templates/org/_partials/_roster_preview.html).
    app.jinja_env.filters["roster_field"] = roster.field_label
    app.jinja_env.filters["roster_value"] = roster.change_value_text
