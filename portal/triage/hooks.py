"""What triage plugs in: a ticket for every feedback item (``feedback_received``), the audit-trail words, the queue
pages (工单) and the monthly ranking (月度排名), the reopening of a poorly rated resolution (``resolution_rated``),
and the SLA scan with its notification kinds, digest section and to-do (``sla.register``)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import signals
from portal.core.registry import register_demo_seeder
from portal.objectives.registry import register_metric
from portal.triage import audit_trail, bp, demo, loop, ranking_bp, reply, services, sla
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp, ranking_bp)


def setup() -> None:
    audit_trail.register()
    sla.register()
    signals.feedback_received.connect(services.on_feedback_received)
    signals.resolution_rated.connect(reply.on_resolution_rated)
    register_nav(NavEntry(_l("Tickets"), "queue.index"), order=32)
    register_nav(NavEntry(_l("Monthly ranking"), "ranking.index"), order=33)
    register_demo_seeder("tickets", demo.seed_tickets, order=55)
    register_metric(loop.CALLBACK_METRIC, _l("Call-back rate of negative ratings with consented contact (回访率, %)"),
                    loop.callback_rate, per_department=True)
    register_metric(loop.RECTIFY_METRIC, _l("Negative ratings rectified by the deadline (差评整改率, %)"),
                    loop.rectification_rate, per_department=True)
