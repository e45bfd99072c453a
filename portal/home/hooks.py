"""What the home domain plugs in: 我的待办, the page the other domains fill through its registries."""
from flask_babel import lazy_gettext as _l

from portal.home import bp
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    register_nav(NavEntry(_l("My tasks"), "home.index"), order=10)
