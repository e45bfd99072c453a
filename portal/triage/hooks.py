"""What triage plugs in: a ticket for every feedback item (``feedback_received``) and the audit-trail words.
The queue pages, SLA scan, digest sections and to-dos come with the rest of issue 12."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import signals
from portal.objectives.registry import register_metric
from portal.triage import audit_trail, loop, services

BLUEPRINTS = ()


def setup() -> None:
    audit_trail.register()
    signals.feedback_received.connect(services.on_feedback_received)
    register_metric(loop.CALLBACK_METRIC, _l("Call-back rate of negative ratings with consented contact (回访率, %)"),
                    loop.callback_rate, per_department=True)
    register_metric(loop.RECTIFY_METRIC, _l("Negative ratings rectified by the deadline (差评整改率, %)"),
                    loop.rectification_rate, per_department=True)
