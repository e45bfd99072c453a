"""What the web domain plugs in: /healthz, the language switch, the favicon, and the bar's menus that several
domains' entries go into (``QUALITY_MENU``: the policy, objectives, matrix and processes; ``FEEDBACK_MENU``: the
feedback, service points, appeals and the ranking)."""
from flask_babel import lazy_gettext as _l

from portal.web import bp
from portal.web.nav import FEEDBACK_MENU, QUALITY_MENU, register_nav_menu

BLUEPRINTS = (bp,)


def setup() -> None:
    register_nav_menu(QUALITY_MENU, _l("Quality system"))
    register_nav_menu(FEEDBACK_MENU, _l("Customer feedback"))
