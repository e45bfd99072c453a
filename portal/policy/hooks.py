"""What the quality-policy domain plugs in: its pages, the reminder notification kind, the digest section
and the to-do for employees who have not acknowledged, the home panel, the acknowledgement-rate metric
for objectives, and the demo policy."""
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import signals
from portal.core.registry import register_demo_seeder
from portal.home.registry import TodoItem, register_home_panel, register_todo_provider
from portal.notify.registry import register_digest_section, register_kind
from portal.objectives.registry import register_metric
from portal.policy import bp, demo, services
from portal.web.nav import QUALITY_MENU, NavEntry, register_nav
from portal.policy import audit_trail

BLUEPRINTS = (bp,)


def _acknowledge_todo(user) -> list[TodoItem]:
    status = services.home_status(user)
    if status is None or status.acknowledged or not user.active:
        return []
    return [TodoItem(
        title=_("Read and acknowledge the quality policy"),
        url=url_for("policy.index"),
        category=_("Quality policy"),
        detail=_("Version %(version)d: %(title)s", version=status.policy.version, title=status.policy.title),
    )]


def _home_panel(user) -> dict | None:
    status = services.home_status(user)
    return {"status": status} if status is not None else None


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Quality policy"), "policy.index", group=QUALITY_MENU), order=20)
    register_kind(services.REMINDER_KIND, _l("Quality policy reminders"))
    register_kind(services.PUBLISHED_KIND, _l("Quality policy published"))
    signals.policy_published.connect(services.notify_everyone_of)
    register_digest_section("policy", _l("Quality policy to acknowledge"), services.digest_unacknowledged, order=50)
    register_metric(services.METRIC_KEY, _l("Quality policy acknowledgement rate (%)"),
                    services.acknowledgement_rate_percent)
    register_todo_provider("policy", _acknowledge_todo, order=20)
    register_home_panel("policy", "policy/_partials/_home_policy.html", _home_panel, order=10)
    register_demo_seeder("policy", demo.seed_policy, order=20)
