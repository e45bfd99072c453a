"""RQ jobs of training. They take ISO dates, never ORM objects, and are idempotent."""
from __future__ import annotations

from datetime import date

from portal.core.rq import job


@job
def overdue_ladder(today: str | date | None = None) -> dict:
    """The overdue ladder and the sweep of obsolete documents' assignments (``portal.training.ladder``), daily at
    07:30 Asia/Shanghai. Each step fires once per assignment: a retry or a second run the same day sends nothing
    new; a failed run rolls back entirely and the next one does its work."""
    from portal.extensions import db
    from portal.training import ladder

    day = date.fromisoformat(today) if isinstance(today, str) else today
    result = ladder.run_ladder(day)
    db.session.commit()
    return result
