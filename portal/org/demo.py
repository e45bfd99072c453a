"""Demo data: a realistic organisation with 7 departments and 42 users (the first of the demo seeders).

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
