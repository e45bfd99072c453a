"""Periodic jobs for ``rq cron portal.cron``. Each domain's schedule is listed here, in one place.

Cron strings are read in the scheduler process's local time; the README runs ``rq cron`` with
``TZ=Asia/Shanghai`` so "03:00" means 03:00 in China.
"""
from rq import cron

from portal.auth.jobs import purge_login_attempts
from portal.notify.jobs import tick
from portal.objectives.jobs import compute_automatic_measurements

cron.register(purge_login_attempts, queue_name="default", cron="0 3 * * *", name="purge_login_attempts")
# The outbox sweeper and the digest start (at the configured time, on working days) run on this tick.
cron.register(tick, queue_name="default", interval=60, name="notify_tick")
# Automatic objective measurements for the periods that closed (idempotent; metrics without data retry the next day).
cron.register(compute_automatic_measurements, queue_name="default", cron="30 2 * * *",
              name="objectives_automatic_measurements")
