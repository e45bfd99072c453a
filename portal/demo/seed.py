"""``flask portal seed-demo``: a realistic organisation with 7 departments and 42 users.

Idempotent: every record is looked up by its natural key first, so a second run adds nothing.
"""
from __future__ import annotations

import sqlalchemy as sa

from portal.audit.services import record
from portal.org.accounts import set_password
from portal.extensions import db
from portal.org.models import Department, Position, User
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER

DEMO_PASSWORD = "demo1234"

# code, name, parent code, positions
DEPARTMENTS = [
    ("GM", "综合办公室", None, ["主任", "行政专员", "档案管理员"]),
    ("QA", "质量管理部", "GM", ["质量经理", "质量工程师", "内审员"]),
    ("KF", "客服部", "GM", ["客服经理", "客服主管", "客服专员", "大堂经理"]),
    ("OPS", "运营部", "GM", ["运营经理", "柜员", "运营专员"]),
    ("HR", "人力资源部", "GM", ["人力资源经理", "培训专员", "招聘专员"]),
    ("IT", "信息技术部", "GM", ["信息技术经理", "系统管理员", "运维工程师"]),
    ("KF-HL", "客服热线组", "KF", ["热线组长", "热线坐席"]),
]

# username, name, department code, position, roles
USERS = [
    ("admin", "系统管理员", "IT", "系统管理员", {ADMIN}),
    ("quality", "周静怡", "QA", "质量经理", {QUALITY_MANAGER}),
    ("head_kf", "李娜", "KF", "客服经理", {DEPT_HEAD}),
    ("zhangsan", "张三", "KF", "客服专员", {EMPLOYEE}),
    ("head_gm", "王建国", "GM", "主任", {DEPT_HEAD}),
    ("head_qa", "陈思远", "QA", "质量经理", {DEPT_HEAD, QUALITY_MANAGER}),
    ("head_ops", "刘海峰", "OPS", "运营经理", {DEPT_HEAD}),
    ("head_hr", "赵敏", "HR", "人力资源经理", {DEPT_HEAD}),
    ("head_it", "孙浩然", "IT", "信息技术经理", {DEPT_HEAD}),
    ("head_hl", "吴晓燕", "KF-HL", "热线组长", {DEPT_HEAD}),
    ("lisi", "李四", "KF", "客服专员", {EMPLOYEE}),
    ("wangwu", "王五", "OPS", "柜员", {EMPLOYEE}),
    ("zhaoliu", "赵六", "OPS", "柜员", {EMPLOYEE}),
    ("sunqi", "孙七", "KF", "大堂经理", {EMPLOYEE}),
    ("zhouba", "周八", "KF-HL", "热线坐席", {EMPLOYEE}),
    ("wujiu", "吴九", "KF-HL", "热线坐席", {EMPLOYEE}),
    ("zhengshi", "郑十", "KF", "客服主管", {EMPLOYEE}),
    ("yangfan", "杨帆", "QA", "质量工程师", {EMPLOYEE}),
    ("huanglei", "黄磊", "QA", "内审员", {EMPLOYEE}),
    ("xuli", "徐丽", "HR", "培训专员", {EMPLOYEE}),
    ("mayun", "马芸", "HR", "招聘专员", {EMPLOYEE}),
    ("hujun", "胡军", "IT", "运维工程师", {EMPLOYEE}),
    ("guolin", "郭林", "IT", "运维工程师", {EMPLOYEE}),
    ("heping", "何平", "GM", "行政专员", {EMPLOYEE}),
    ("gaoyuan", "高远", "GM", "档案管理员", {EMPLOYEE}),
    ("linxue", "林雪", "OPS", "运营专员", {EMPLOYEE}),
    ("luoqiang", "罗强", "OPS", "柜员", {EMPLOYEE}),
    ("liangyu", "梁宇", "OPS", "柜员", {EMPLOYEE}),
    ("songjia", "宋佳", "KF", "客服专员", {EMPLOYEE}),
    ("tangwei", "唐薇", "KF", "客服专员", {EMPLOYEE}),
    ("hanmei", "韩梅", "KF-HL", "热线坐席", {EMPLOYEE}),
    ("fengtao", "冯涛", "KF-HL", "热线坐席", {EMPLOYEE}),
    ("dengchao", "邓超", "OPS", "运营专员", {EMPLOYEE}),
    ("caoyang", "曹阳", "QA", "质量工程师", {EMPLOYEE}),
    ("pengli", "彭莉", "HR", "培训专员", {EMPLOYEE}),
    ("zengxin", "曾鑫", "IT", "系统管理员", {EMPLOYEE}),
    ("xiaoyu", "肖雨", "KF", "客服专员", {EMPLOYEE}),
    ("tianye", "田野", "OPS", "柜员", {EMPLOYEE}),
    ("dongqing", "董晴", "KF-HL", "热线坐席", {EMPLOYEE}),
    ("yuanhao", "袁浩", "GM", "行政专员", {EMPLOYEE}),
    ("panwen", "潘雯", "KF", "客服专员", {EMPLOYEE}),
    ("jiangbo", "蒋波", "OPS", "柜员", {EMPLOYEE}),
]

# department code → head username
HEADS = {"GM": "head_gm", "QA": "head_qa", "KF": "head_kf", "OPS": "head_ops", "HR": "head_hr",
         "IT": "head_it", "KF-HL": "head_hl"}


def seed() -> int:
    """Create whatever of the demo organisation is missing; return how many records were added."""
    created = 0
    depts: dict[str, Department] = {}
    for order, (code, name, parent_code, positions) in enumerate(DEPARTMENTS):
        dept = db.session.scalar(sa.select(Department).where(Department.code == code))
        if dept is None:
            dept = Department(code=code, name=name, parent=depts.get(parent_code), sort_order=order * 10)
            db.session.add(dept)
            db.session.flush()
            record("department.create", dept, after={"code": code, "name": name}, extra={"via": "seed-demo"})
            created += 1
        depts[code] = dept
        for position_name in positions:
            exists = db.session.scalar(
                sa.select(Position).where(Position.department_id == dept.id, Position.name == position_name)
            )
            if exists is None:
                db.session.add(Position(department_id=dept.id, name=position_name))
                created += 1
    db.session.flush()

    for username, name, code, position_name, roles in USERS:
        if db.session.scalar(sa.select(User).where(User.username == username)) is not None:
            continue
        position = db.session.scalar(
            sa.select(Position).where(Position.department_id == depts[code].id, Position.name == position_name)
        )
        user = User(username=username, display_name=name, email=f"{username}@demo.example.cn",
                    department_id=depts[code].id, position_id=position.id if position else None)
        user.set_roles(roles)
        db.session.add(user)
        set_password(user, DEMO_PASSWORD, must_change=False)
        record("user.create", user, after={"username": username, "roles": sorted(roles)}, extra={"via": "seed-demo"})
        created += 1

    for code, username in HEADS.items():
        dept = depts[code]
        if dept.head_id is None:
            dept.head = db.session.scalar(sa.select(User).where(User.username == username))
            db.session.flush()
            record("department.update", dept, after={"head_id": dept.head_id}, extra={"via": "seed-demo"})
            created += 1
    db.session.commit()
    return created


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
    from datetime import timedelta

    from portal.core.types import utcnow
    from portal.notify.admin import ANNOUNCEMENT
    from portal.notify.digest import build_day
    from portal.notify.models import Notification
    from portal.notify.services import notify_many
    from portal.core.i18n import portal_tz

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
