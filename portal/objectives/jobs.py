"""RQ jobs of the objectives domain. They take ids and ISO dates, never ORM objects, and are idempotent."""
from __future__ import annotations

import logging
from datetime import date

from portal.core.rq import job

log = logging.getLogger(__name__)


@job
def compute_automatic_measurements(today: str | date | None = None) -> dict:
    """Record the last closed period of every active objective whose data source is an automatic metric.

    Run daily (rq cron): a period gets exactly one measurement, so later runs skip it — including one entered
    by hand — and a metric that had no data yet (None) is asked again the next day. Each objective is computed
    in its own savepoint: one failing metric does not hold back the others. A per-department metric
    (``register_metric(…, per_department=True)``) measures the objective's department.
    """
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.objectives import services
    from portal.objectives.models import MANUAL, Measurement, Objective
    from portal.objectives.registry import get_metric

    if isinstance(today, str):
        today = date.fromisoformat(today)
    today = today or services.local_today()
    result = {"recorded": 0, "skipped": 0, "failed": 0}
    objectives = db.session.scalars(
        sa.select(Objective).where(Objective.active.is_(True), Objective.data_source != MANUAL).order_by(Objective.id)
    ).all()
    for objective in objectives:
        metric = get_metric(objective.data_source)
        if metric is None:
            log.warning("objective %s: no metric %r is registered", objective.id, objective.data_source)
            result["skipped"] += 1
            continue
        start = services.last_closed_period_start(objective.period, today)
        exists = db.session.scalar(sa.select(Measurement.id).where(
            Measurement.objective_id == objective.id, Measurement.period_start == start))
        if exists is not None:
            result["skipped"] += 1
            continue
        try:
            with db.session.begin_nested():
                value = metric.compute(start, services.period_end(objective.period, start), objective.department_id)
                if value is not None:
                    services.record_measurement(None, objective, start, value, today=today)
        except Exception:  # noqa: BLE001 - a metric is another domain's code; log it and go on
            log.exception("objective %s: metric %r failed for %s", objective.id, objective.data_source, start)
            result["failed"] += 1
            continue
        result["recorded" if value is not None else "skipped"] += 1
    db.session.commit()
    return result
