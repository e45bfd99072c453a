"""What the responsibility matrix plugs in: the matrix and 我的职责 pages, who is accountable for each
process (for the process list), and the demo matrix."""
from flask_babel import lazy_gettext as _l

from portal.core.registry import register_demo_seeder
from portal.processes.registry import register_accountability
from portal.raci import bp, demo, services
from portal.web.nav import QUALITY_MENU, NavEntry, register_nav
from portal.raci import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Responsibility matrix"), "raci.index", group=QUALITY_MENU), order=22)
    register_nav(NavEntry(_l("My responsibilities"), "raci.mine", group=QUALITY_MENU), order=23)
    register_accountability("raci", services.accountable_names)
    register_demo_seeder("matrix", demo.seed_matrix, order=30)


def role_labels() -> dict[str, str]:
    """Role letter -> its label as text in the request's language ('' -> "None"), for the cells' names."""
    from flask_babel import gettext

    return {"": gettext("None"), **{letter: str(label) for letter, label in services.LEGEND.items()}}


def init_app(app) -> None:
    app.jinja_env.globals["raci_role_labels"] = role_labels
