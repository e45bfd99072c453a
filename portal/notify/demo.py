"""Demo data: a morning of announcements for the demo accounts, and today's digest."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.audit.services import record
from portal.core.i18n import portal_tz
from portal.core.types import utcnow
from portal.extensions import db
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.digest import build_day
from portal.notify.models import Notification
from portal.notify.services import notify_many
from portal.org.models import Department, User


# A realistic morning: announcements from the quality department and the department heads.
# (sender username, department code or None for everyone, title, body, hours ago, read by zhangsan)
ANNOUNCEMENTS = [
    ("quality", None, "关于开展2026年第四季度服务质量检查的通知",
     "质量管理部将于12月1日至12月12日对各网点开展服务质量检查，重点检查服务规范执行、客户意见处理时限和培训签收情况。", 26, True),
    ("quality", None, "《客户投诉处理规范》修订征求意见",
     "请各部门于本周五前通过门户反馈修订意见。", 20, False),
    ("head_kf", "KF", "客服部十一月“服务之星”评选结果",
     "恭喜张三、宋佳获得十一月“服务之星”称号。", 5, False),
    ("head_kf", "KF", "明日早会改为8:40开始",
     "因网点系统升级，明日早会推迟十分钟，请大家准时参加。", 2, False),
    ("head_it", None, "周六凌晨系统维护通知",
     "本周六 00:00–04:00 进行门户升级维护，期间暂停访问。", 1, False),
]


def seed_notifications(now=None) -> int:
    """A day of notifications for the demo accounts, and today's digest (idempotent by dedupe keys)."""
    now = now or utcnow()
    created = 0
    for index, (sender, dept_code, title, body, hours_ago, read) in enumerate(ANNOUNCEMENTS):
        key = f"demo:announcement:{index}"
        if db.session.scalar(sa.select(Notification.id).where(Notification.dedupe_key == key).limit(1)):
            continue
        stmt = sa.select(User).where(User.active.is_(True))
        dept_id = None
        if dept_code:
            dept_id = db.session.scalar(sa.select(Department.id).where(Department.code == dept_code))
            stmt = stmt.where(User.department_id == dept_id)
        recipients = list(db.session.scalars(stmt.order_by(User.id)))
        when = now - timedelta(hours=hours_ago)
        notes = notify_many(recipients, ANNOUNCEMENT, title, body, "/notifications", department_id=dept_id,
                            dedupe_key=key, now=when)
        actor = db.session.scalar(sa.select(User).where(User.username == sender))
        record("notify.announcement", actor=actor, object_type="announcement", object_id=key,
               extra={"title": title, "recipients": len(notes), "via": "seed-demo"})
        if read:
            for note in notes:
                note.read_at = when + timedelta(hours=1)
        created += len(notes)
    db.session.commit()
    build_day(now.astimezone(portal_tz()).date(), now=now)
    return created
