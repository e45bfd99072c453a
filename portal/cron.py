"""Periodic jobs for ``rq cron portal.cron``. Each domain's schedule is listed here, in one place.

Cron strings are read in the scheduler process's local time; the README runs ``rq cron`` with
``TZ=Asia/Shanghai`` so "03:00" means 03:00 in China.
"""
from rq import cron

from portal.auth.jobs import purge_login_attempts
from portal.notify.jobs import tick

cron.register(purge_login_attempts, queue_name="default", cron="0 3 * * *", name="purge_login_attempts")
# The outbox sweeper and the digest start (at the configured time, on working days) run on this tick.
cron.register(tick, queue_name="default", interval=60, name="notify_tick")
