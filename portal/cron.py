"""Periodic jobs for ``rq cron portal.cron``. Each domain registers its schedule in its ``hooks.setup()``
(``portal.core.registry.register_cron``); this module loads the domains and hands the schedule to RQ.

Cron strings are read in the scheduler process's local time; the README runs ``rq cron`` with
``TZ=Asia/Shanghai`` so "03:00" means 03:00 in China.
"""
from rq import cron

from portal import domains
from portal.core.registry import cron_jobs

domains.load()
for _job in cron_jobs:
    if _job.cron is not None:
        cron.register(_job.func, queue_name=_job.queue, cron=_job.cron, name=_job.name)
    else:
        cron.register(_job.func, queue_name=_job.queue, interval=_job.interval, name=_job.name)
