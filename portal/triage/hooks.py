"""What triage plugs in: a ticket for every feedback item (``feedback_received``) and the audit-trail words.
The queue pages, SLA scan, digest sections and to-dos come with the rest of issue 12."""
from __future__ import annotations

from portal import signals
from portal.triage import audit_trail, services, sla

BLUEPRINTS = ()


def setup() -> None:
    audit_trail.register()
    sla.register()
    signals.feedback_received.connect(services.on_feedback_received)
