"""RQ jobs of document control. They take ISO dates, never ORM objects, and are idempotent."""
from __future__ import annotations

import logging
from datetime import date

from portal.core.rq import job

log = logging.getLogger(__name__)


@job
def make_due_versions_effective(today: str | date | None = None) -> dict:
    """Approved versions whose effective date has come take effect (run at 00:00 Asia/Shanghai and every hour
    after, so a scheduler that was down at midnight catches up). Each version in its own savepoint."""
    from portal.extensions import db
    from portal.sop import services
    from portal.sop.models import DocumentVersion
    from portal.workcal.services import local_today

    day = date.fromisoformat(today) if isinstance(today, str) else (today or local_today())
    result = {"effective": 0, "failed": 0}
    for version_id in services.due_versions(day):
        try:
            with db.session.begin_nested():
                services.make_effective(db.session.get(DocumentVersion, version_id), today=day)
            result["effective"] += 1
        except Exception:  # noqa: BLE001 - one broken version must not hold back the others; it is retried next hour
            log.exception("document version %s could not take effect", version_id)
            result["failed"] += 1
    db.session.commit()
    return result


@job
def periodic_review_reminders(today: str | date | None = None) -> dict:
    """Tell owners of documents whose periodic review is due within 30 days or overdue (once per state)."""
    from portal.extensions import db
    from portal.sop import services
    from portal.workcal.services import local_today

    day = date.fromisoformat(today) if isinstance(today, str) else (today or local_today())
    sent = services.notify_reviews_due(day)
    db.session.commit()
    return {"notified": sent}
