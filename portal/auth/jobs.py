"""Background jobs of the auth domain."""
from portal.core.rq import job


@job
def purge_login_attempts(days: int = 30) -> int:
    """Delete login attempts that no longer count for lockout (run daily by rq cron)."""
    from portal.auth.services import purge_old_attempts
    from portal.extensions import db

    deleted = purge_old_attempts(days)
    db.session.commit()
    return deleted
