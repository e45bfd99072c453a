"""What triage plugs in: a ticket for every feedback item (``feedback_received``), the audit-trail words, the queue
pages (工单) and the monthly ranking (月度排名), the reopening of a poorly rated resolution (``resolution_rated``), the email of a reply to the customer
(an email source of the outbox), the SLA scan with its notification kinds, digest section and to-do
(``sla.register``), 我的工单 in the digest with the heads' to-do of unassigned tickets (``my_items.register``),
incidents (``incidents.register``), and the 差评 loop's pages: its panel on a 差评's page, 申诉复核 with its to-do,
the appeal rates (``loop_views``)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import signals
from portal.core.registry import register_demo_seeder
from portal.notify.registry import register_email_source
from portal.objectives.registry import register_metric
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.home.registry import register_todo_provider
from portal.triage import (audit_trail, bp, demo, incidents, loop, loop_views, my_items, ranking_bp, reply, services,
                           sla)
from portal.triage.registry import register_ticket_panel
from portal.web.nav import FEEDBACK_MENU, NavEntry, register_nav

BLUEPRINTS = (bp, ranking_bp)


def setup() -> None:
    audit_trail.register()
    sla.register()
    my_items.register()
    incidents.register()
    signals.feedback_received.connect(services.on_feedback_received)
    signals.resolution_rated.connect(reply.on_resolution_rated)
    register_email_source(reply.REPLY_EMAIL, reply.render_reply_email)
    register_nav(NavEntry(_l("Tickets"), "queue.index"), order=32)
    register_nav(NavEntry(_l("Appeal review"), "queue.appeals", (QUALITY_MANAGER,), FEEDBACK_MENU), order=33)
    register_nav(NavEntry(_l("Appeal rates"), "queue.appeal_rates", (ADMIN, DEPT_HEAD), FEEDBACK_MENU), order=34)
    register_ticket_panel("triage.negative_loop", "triage/_partials/_negative_loop.html", loop_views.panel_context,
                          order=10)
    register_todo_provider("triage.appeals", loop.todos, order=31)
    register_nav(NavEntry(_l("Monthly ranking"), "ranking.index", group=FEEDBACK_MENU), order=35)
    register_demo_seeder("tickets", demo.seed_tickets, order=55)
    register_demo_seeder("ticket_loop", demo.seed_loop, order=56)
    register_metric(loop.CALLBACK_METRIC, _l("Call-back rate of negative ratings with consented contact (回访率, %)"),
                    loop.callback_rate, per_department=True)
    register_metric(loop.RECTIFY_METRIC, _l("Negative ratings rectified by the deadline (差评整改率, %)"),
                    loop.rectification_rate, per_department=True)
