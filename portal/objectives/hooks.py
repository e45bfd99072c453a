"""What the quality-objectives domain plugs in: its pages, the "objective missed" notification kind and
its subscriber, the nightly automatic measurements, and the demo objectives."""
from flask_babel import lazy_gettext as _l

from portal import signals
from portal.core.registry import register_cron, register_demo_seeder
from portal.notify.registry import register_kind
from portal.objectives import bp, demo, subscribers
from portal.objectives.jobs import compute_automatic_measurements
from portal.objectives.services import MISSED_KIND
from portal.web.nav import QUALITY_MENU, NavEntry, register_nav
from portal.objectives import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Quality objectives"), "objectives.index", group=QUALITY_MENU), order=21)
    register_kind(MISSED_KIND, _l("Quality objective missed"))
    signals.objective_missed.connect(subscribers.notify_head_of_missed)
    # Objectives whose period closed are measured from their metric (idempotent; metrics without data retry
    # the next day).
    register_cron("objectives_automatic_measurements", compute_automatic_measurements, cron="30 2 * * *")
    # After the policy: the acknowledgement-rate objective reads its acknowledgements.
    register_demo_seeder("objectives", demo.seed_objectives, order=40)
