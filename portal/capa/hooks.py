"""What CAPA plugs in: the audit-trail words and the daily effectiveness check. Its pages, the link on a missed
objective, digest sections and to-dos come with the rest of issue 12."""
from __future__ import annotations

from portal.capa import audit_trail, jobs
from portal.core.registry import register_cron

BLUEPRINTS = ()


def setup() -> None:
    audit_trail.register()
    register_cron("capa_effectiveness_checks", jobs.run_due_checks, cron="15 6 * * *")
