"""RQ jobs of the notification backbone. They take ids and dates, never ORM objects, and are idempotent:
running any of them twice sends nothing twice."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale

from portal.core.rq import job
from portal.core.types import utcnow


@job
def deliver_batch(delivery_ids: list[int], now: str | None = None) -> dict:
    """Send these outbox rows (one SMTP connection for the batch)."""
    from portal.notify.delivery import process

    return process(list(delivery_ids), datetime.fromisoformat(now) if now else None)


@job
def run_digest(day: str, now: str | None = None) -> int:
    """Build and send the daily digest for ``day`` (ISO date). Safe to run again for the same day."""
    from portal.notify.delivery import process, sweep
    from portal.notify.digest import build_day

    moment = datetime.fromisoformat(now) if now else utcnow()
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        build_day(date.fromisoformat(day), now=moment)
    sent = 0
    # Deliver here, batch by batch (one SMTP connection each): the digest is the morning's big send and
    # should not wait behind the sweeper. Rows this run does not reach are picked up by the sweeper.
    for batch in sweep(moment):
        sent += process(batch, moment)["sent"]
    from portal.extensions import rq

    rq.connection.set(_done_key(date.fromisoformat(day)), "1", ex=3 * 86400)
    rq.connection.delete(f"portal:digest-running:{day}")
    return sent


@job
def sweep_outbox(now: str | None = None) -> int:
    """Re-enqueue every due outbox row (pending after a Redis outage, a retry delay or a dead worker)."""
    from portal.extensions import rq
    from portal.notify.delivery import sweep

    batches = sweep(datetime.fromisoformat(now) if now else utcnow())
    for batch in batches:
        rq.enqueue_now(deliver_batch, batch)
    return len(batches)


@job
def tick(now: str | None = None) -> dict:
    """Every minute (rq cron): sweep the outbox, and start the digest when it is due."""
    from portal.extensions import db, rq
    from portal.notify.digest import digest_due
    from portal.notify.services import get_settings

    moment = datetime.fromisoformat(now) if now else utcnow()
    batches = sweep_outbox(moment.isoformat())
    day = digest_due(moment, get_settings().digest_time)
    db.session.commit()
    started = False
    if day is not None and _claim_digest_day(day):
        rq.enqueue_now(run_digest, day.isoformat(), moment.isoformat() if now else None)
        started = True
    return {"batches": batches, "digest": started}


def _claim_digest_day(day: date) -> bool:
    """Whether this tick should start ``day``'s digest run: not finished yet, and no run under way.

    The "under way" lock expires, so a run whose worker died is started again by a later tick; runs are
    idempotent, so a second run only finishes what the first left."""
    from portal.extensions import rq

    if rq.connection.exists(_done_key(day)):
        return False
    return bool(rq.connection.set(f"portal:digest-running:{day.isoformat()}", "1", nx=True,
                                  ex=current_app.config["PORTAL_DELIVERY_STALE_SECONDS"]))


def _done_key(day: date) -> str:
    return f"portal:digest-done:{day.isoformat()}"


@job
def calendar_coverage(today: str | None = None) -> dict:
    """Daily (rq cron): warn the administrators about a year the working-day calendar does not cover."""
    from portal.extensions import db
    from portal.notify.workcal_watch import warn_uncovered_years
    from portal.workcal.services import local_today

    day = date.fromisoformat(today) if today else local_today()
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        raised = warn_uncovered_years(day)
    db.session.commit()
    return {str(year): count for year, count in raised.items()}
