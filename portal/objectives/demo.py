"""Demo quality objectives for the demo departments (GM, QA, KF, OPS, HR, IT, KF-HL), with the values of the
last 12 months up to last month: most on track, some at risk, some missed.

Idempotent: objectives are looked up by name and department, values by period; a second run adds nothing.
A process is linked by its code only when it exists (portal/raci/demo.py seeds them).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.objectives import services
from portal.objectives.models import GE, LE, MONTH, QUARTER, Objective
from portal.org.models import Department, User, UserRole
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.processes.models import Process
from portal.core.i18n import portal_tz

# name, department, process code, definition, unit, direction, target, period, tolerance %, values (oldest first:
# 12 months, or the last 4 quarters)
OBJECTIVES = [
    ("客户满意度", "KF", "SV-05", "满意度测评中“满意”及“非常满意”的答卷数 ÷ 有效答卷总数 × 100%。", "%", GE, "95", MONTH, "2",
     ["96.2", "95.8", "96.5", "94.1", "95.3", "96.0", "96.8", "95.5", "93.6", "95.1", "96.3", "94.4"]),
    ("投诉处理及时率", "KF", "SV-04", "在规定时限（一般投诉 2 个工作日、重大投诉 1 个工作日）内办结的投诉数 ÷ 投诉总数 × 100%。",
     "%", GE, "98", MONTH, "2",
     ["98.6", "99.1", "98.2", "97.4", "98.8", "99.3", "95.2", "98.0", "98.9", "99.2", "98.4", "95.6"]),
    ("平均等候时间", "OPS", "SV-01", "叫号系统统计的客户取号至开始办理的平均时长。", "分钟", LE, "15", MONTH, "10",
     ["13.2", "12.8", "14.6", "16.2", "14.9", "13.7", "12.9", "15.8", "17.9", "14.1", "13.6", "16.1"]),
    ("业务差错率", "OPS", "SV-02", "事后监督发现的差错笔数 ÷ 柜面业务总笔数 × 1000‰。", "‰", LE, "0.5", MONTH, "10",
     ["0.42", "0.38", "0.45", "0.51", "0.36", "0.41", "0.62", "0.44", "0.39", "0.47", "0.35", "0.40"]),
    ("员工培训完成率", "HR", "QM-05", "按期完成年度培训计划课程并考核合格的人数 ÷ 应培训人数 × 100%。", "%", GE, "100", QUARTER, "5",
     ["100", "96.4", "100", "92.3"]),
    ("热线接通率", "KF-HL", "SV-03", "20 秒内人工接通的来电数 ÷ 转人工来电总数 × 100%。", "%", GE, "90", MONTH, "5",
     ["91.5", "92.3", "88.7", "90.4", "93.1", "84.2", "90.8", "91.6", "89.3", "92.0", "90.9", "87.6"]),
    ("服务规范抽检合格率", "QA", "SV-06", "服务规范现场及录像抽检中合格的项次 ÷ 抽检总项次 × 100%。", "%", GE, "97", MONTH, "2",
     ["97.8", "98.2", "97.1", "96.4", "97.5", "98.0", "97.9", "94.2", "97.3", "98.1", "97.6", "98.4"]),
    ("内审发现问题整改率", "QA", "MI-01", "在约定期限内完成整改并经验证关闭的内审不符合项数 ÷ 到期不符合项总数 × 100%。",
     "%", GE, "100", QUARTER, "5", ["100", "100", "95.8", "100"]),
    ("信息系统可用率", "IT", "QM-07", "（计划服务时间 − 非计划中断时间）÷ 计划服务时间 × 100%。", "%", GE, "99.9", MONTH, "0.1",
     ["99.95", "99.97", "99.92", "99.99", "99.84", "99.96", "99.93", "99.98", "99.71", "99.94", "99.97", "99.91"]),
    ("公文按时办结率", "GM", "QM-08", "在规定时限内办结的收文数 ÷ 应办结收文总数 × 100%。", "%", GE, "95", QUARTER, "3",
     ["96.7", "95.2", "93.4", "97.1"]),
]

#: who enters each department's values: its head (seed.py's HEADS)
ENTERED_BY = {"GM": "head_gm", "QA": "head_qa", "KF": "head_kf", "OPS": "head_ops", "HR": "head_hr",
              "IT": "head_it", "KF-HL": "head_hl"}


def _manager() -> User | None:
    """The demo quality manager, or any active administrator / quality manager."""
    user = db.session.scalar(sa.select(User).where(User.username == "quality", User.active.is_(True)))
    if user is not None:
        return user
    return db.session.scalar(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_((QUALITY_MANAGER, ADMIN)), User.active.is_(True)).order_by(User.id).limit(1))


def _period_starts(period: str, last_month_start, count: int) -> list:
    """The ``count`` latest periods that have ended by the end of last month, oldest first."""
    start = services.period_start_of(period, last_month_start)
    if services.period_end(period, start) > services.period_end(MONTH, last_month_start):
        start = services.previous_period_start(period, start)
    starts = [start]
    while len(starts) < count:
        starts.append(services.previous_period_start(period, starts[-1]))
    return list(reversed(starts))


def seed_objectives(now: datetime | None = None) -> int:
    """Create whatever of the demo objectives and their values is missing; return how many records were added.
    Nothing is added when the demo organisation (``seed()``) is not there."""
    now = now or utcnow()
    tz = portal_tz()
    today = now.astimezone(tz).date()
    last_month = services.last_closed_period_start(MONTH, today)
    manager = _manager()
    depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
    if manager is None:
        return 0
    created = 0
    for (name, code, process_code, definition, unit, direction, target, period, tolerance, values) in OBJECTIVES:
        dept = depts.get(code)
        if dept is None:
            continue
        objective = db.session.scalar(sa.select(Objective).where(Objective.name == name,
                                                                 Objective.department_id == dept.id))
        if objective is None:
            process_id = db.session.scalar(sa.select(Process.id).where(Process.code == process_code))
            objective = services.create_objective(manager, services.ObjectiveData(
                name=name, department_id=dept.id, process_id=process_id, metric_definition=definition, unit=unit,
                direction=direction, target=target, period=period, tolerance_percent=tolerance))
            created += 1
        if not objective.active:
            continue
        head = db.session.scalar(sa.select(User).where(User.username == ENTERED_BY[code], User.active.is_(True)))
        actor = head if head is not None and services.can_measure(head, objective) else manager
        starts = _period_starts(objective.period, last_month, len(values))
        for index, (start, value) in enumerate(zip(starts, values)):
            if services.get_measurement(objective, start) is not None:
                continue
            # Only the latest period notifies the head: a year of old misses at once would be noise.
            measurement = services.record_measurement(actor, objective, start, Decimal(value), today=today,
                                                      notify_missed=index == len(values) - 1)
            entered = datetime.combine(services.period_end(objective.period, start) + timedelta(days=3), time(10, 0), tz)
            measurement.entered_at = min(entered, now)
            created += 1
        db.session.flush()
    db.session.commit()
    return created

