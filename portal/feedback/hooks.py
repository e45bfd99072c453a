"""What feedback intake plugs in: the customers' kiosk and 查询码 pages, staff pages, service points, the
device API operations, the notification kinds for 差评 and complaints, the digest section 昨日客户意见, the
audit-trail words and the demo data."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.api.blueprints import register_api_blueprint
from portal.api.openapi import register_operation
from portal.core.registry import register_demo_seeder
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.feedback import api_bp, api_views, audit_trail, bp, demo, kiosk_bp, points_bp, services
from portal.notify.registry import DigestItem, register_digest_section, register_kind
from portal.web.bodylimit import limit_bodies
from portal.web.nav import FEEDBACK_MENU, NavEntry, register_nav

BLUEPRINTS = (bp, points_bp, kiosk_bp, api_bp)


def _digest(users, day) -> dict[int, list[DigestItem]]:
    out: dict[int, list[DigestItem]] = {}
    for user_id, lines in services.day_summary(users, day).items():
        out[user_id] = [DigestItem(
            title=name, link="/feedback/",
            detail=_("%(n)d items, %(negative)d negative, mean rating %(mean)s", n=total, negative=negative,
                     mean=f"{mean:.2f}" if mean is not None else "—"))
            for name, total, negative, mean in lines]
    return out


def setup() -> None:
    audit_trail.register()
    register_api_blueprint(api_bp)
    limit_bodies(kiosk_bp, "PORTAL_KIOSK_MAX_BODY_KB")  # a customer's form is a few KB
    limit_bodies(api_bp, "PORTAL_API_MAX_BODY_KB")      # so is a terminal's submission
    for order, operation in enumerate(api_views.operations()):
        register_operation(operation, order=order)
    register_nav(NavEntry(_l("Customer feedback"), "feedback.index", group=FEEDBACK_MENU), order=30)
    register_nav(NavEntry(_l("Service points"), "points.index", (ADMIN, QUALITY_MANAGER, DEPT_HEAD), FEEDBACK_MENU),
                 order=31)
    register_kind(services.KIND_NEGATIVE, _l("Negative ratings (差评) for my department"))
    register_kind(services.KIND_COMPLAINT, _l("Complaints about my department"))
    register_digest_section("feedback.yesterday", _l("Yesterday's customer feedback"), _digest, order=40)
    register_demo_seeder("feedback", demo.seed, order=50)


def init_app(app) -> None:
    from portal.feedback.kiosk_views import render_kiosk_error
    from portal.web.errors import register_error_renderer

    register_error_renderer(kiosk_bp.name, render_kiosk_error, path_prefix="/k/")
    register_error_renderer("", render_kiosk_error, path_prefix="/q/")
