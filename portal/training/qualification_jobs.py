"""RQ jobs of qualifications. They take ISO dates, never ORM objects, and are idempotent."""
from __future__ import annotations

from datetime import date

from portal.core.rq import job


@job
def expiry_reminders(today: str | date | None = None) -> dict:
    """Daily: remind holders and their department heads 60 and 30 days before a certificate expires, each
    step once (a re-run, or a second worker, sends nothing new)."""
    from portal.extensions import db
    from portal.training import qualifications
    from portal.workcal.services import local_today

    day = date.fromisoformat(today) if isinstance(today, str) else (today or local_today())
    sent = qualifications.send_expiry_reminders(day)
    db.session.commit()
    return {"notified": sent}
