"""RQ jobs of triage. They take ISO datetimes, never ORM objects, and are idempotent."""
from __future__ import annotations

from datetime import datetime

from portal.core.rq import job


@job
def sla_scan(now: str | datetime | None = None) -> dict:
    """The SLA scan (``portal.triage.sla.scan``), every 2 minutes: warnings and escalations of the tickets that
    are due. Each step fires once per ticket (claimed by a conditional UPDATE): a retry or an overlapping run
    sends nothing twice; a failed run rolls back entirely and the next one does its work."""
    from portal.extensions import db
    from portal.triage import sla

    moment = datetime.fromisoformat(now) if isinstance(now, str) else now
    result = sla.scan(moment)
    db.session.commit()
    return result
