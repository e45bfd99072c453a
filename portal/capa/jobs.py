"""CAPA jobs: the daily effectiveness checks (idempotent: a CAPA with a result is not checked again)."""
from __future__ import annotations

from portal.core.rq import job


@job
def run_due_checks() -> dict:
    from portal.capa import services
    from portal.extensions import db

    today = services.local_today()
    checked = 0
    for capa in services.due_checks(today):
        services.run_check(capa, today=today)
        checked += 1
    db.session.commit()
    return {"checked": checked}


@job
def overdue_actions() -> dict:
    """Overdue CAPA actions: the owner, then the department's head, then the quality managers, each once."""
    from portal.capa import ladder
    from portal.extensions import db

    result = ladder.run_overdue()
    db.session.commit()
    return result
