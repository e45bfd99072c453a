"""RQ jobs of the audit domain."""
from __future__ import annotations

from portal.core.rq import job


@job
def anchor_audit_chain() -> dict:
    """Append today's anchor of the audit chain (run daily by rq cron; once per day, so reruns add nothing)."""
    from portal.audit.services import write_anchor

    anchor = write_anchor()
    return {"day": anchor.day.isoformat(), "event_id": anchor.event_id}
