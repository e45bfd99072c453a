"""What the notifications domain plugs in: the notification centre and admin pages, announcements, the
digest's own sections, the minute tick (outbox sweep and digest start) and the demo morning."""
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.core.registry import register_cron, register_demo_seeder
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.notify import admin, bp, demo, digest, workcal_watch
from portal.notify.jobs import calendar_coverage, tick
from portal.notify.registry import register_digest_section, register_kind
from portal.notify.services import unread_count
from portal.web.nav import NavEntry, register_nav
from portal.notify import audit_trail

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Notifications"), "notify.centre"), order=80)
    register_nav(NavEntry(_l("Announcement"), "notify.announce", (ADMIN, QUALITY_MANAGER, DEPT_HEAD)), order=85)
    register_nav(NavEntry(_l("Notification settings"), "notify.settings", (ADMIN,), "admin"), order=60)
    register_nav(NavEntry(_l("Outbox"), "notify.outbox", (ADMIN,), "admin"), order=70)
    register_nav(NavEntry(_l("Jobs and deliveries"), "notify.jobs", (ADMIN,), "admin"), order=80)
    register_nav(NavEntry(_l("Group-chat robots"), "notify.webhooks", (ADMIN,), "admin"), order=90)
    register_kind(admin.ANNOUNCEMENT, _l("Announcements"))
    register_kind(workcal_watch.KIND, _l("Working-day calendar warnings"))
    register_digest_section("notifications", _l("Unread notifications"), digest.unread_notifications_section,
                            order=90)
    register_digest_section("team", _l("My team"), digest.team_unread_section, heads_only=True, order=200)
    # Administrators see the audit chain's latest anchor every day: a copy of the head outside the database.
    register_digest_section("audit_anchor", _l("Audit trail"), digest.audit_anchor_section, order=950)
    # The outbox sweeper and the digest start (at the configured time, on working days) run on this tick.
    register_cron("notify_tick", tick, interval=60)
    # From 1 November (and all year when this year is not covered): a year without holidays is announced.
    register_cron("calendar_coverage", calendar_coverage, cron="0 9 * * *")
    # Last: announcements go to the users every other seeder has created.
    register_demo_seeder("notifications", demo.seed_notifications, order=900)


def _unread_for_bell() -> int:
    return unread_count(current_user) if current_user.is_authenticated else 0


def init_app(app) -> None:
    # The bell in the navigation bar (templates/base.html).
    app.jinja_env.globals["unread_notifications"] = _unread_for_bell
