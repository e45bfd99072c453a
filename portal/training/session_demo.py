"""Demo classroom sessions: three past ones whose trainers signed the attendees in (which completes some of the
demo's assignments) and one to come. Made through the services, so signatures and audit events are real.
Idempotent: each session has a fixed request key, and signing someone twice does nothing."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.core.i18n import portal_tz
from portal.extensions import db
from portal.org.demo import DEMO_PASSWORD
from portal.org.models import Department, User
from portal.sop.models import Document
from portal.training import sessions
from portal.training.models import TrainingSession
from portal.workcal.services import local_today

#: key, topic, organiser, trainer, department, documents, days from today, hours (local), place, notes
SESSIONS = [
    ("demo-session-1", "客户投诉处理与大堂服务规范宣贯", "head_kf", "zhengshi", "KF", ["SOP-KF-001", "SOP-KF-002"],
     -12, (14, 16), "三楼培训室", "结合近期差评案例讲解。"),
    ("demo-session-2", "柜面业务与现金收付培训", "head_ops", "linxue", "OPS", ["SOP-OPS-001", "SOP-OPS-002"],
     -6, (9, 11), "营业部会议室", ""),
    ("demo-session-3", "客服热线接听规范培训", "quality", "xuli", "KF-HL", ["SOP-KF-HL-001"],
     -3, (15, 17), "热线组办公区", "含录音案例复盘。"),
    ("demo-session-4", "客户信息保护规范培训", "quality", "xuli", "OPS", ["SOP-OPS-005"],
     7, (14, 16), "二楼大会议室", "请携带笔记本。"),
]
MAX_INVITED = 12


def _local(day, hour: int) -> datetime:
    return datetime.combine(day, time(hour), portal_tz())


def _invitees(document_ids: list[int], department: Department, trainer: User) -> list[int]:
    ids = sessions.open_assignee_ids(document_ids, department.id)
    if not ids:  # no open training left: the department's people
        ids = list(db.session.scalars(sa.select(User.id).where(User.department_id == department.id,
                                                               User.active.is_(True)).order_by(User.id)))
    return [i for i in ids if i != trainer.id][:MAX_INVITED]


def seed_sessions() -> int:
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    if "xuli" not in users or "quality" not in users:
        return 0
    depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
    today = local_today()
    created = 0
    for key, topic, organiser, trainer, dept, codes, days, (start, end), place, notes in SESSIONS:
        existing = db.session.scalar(sa.select(TrainingSession).where(TrainingSession.request_key == key))
        session = existing
        if session is None:
            documents = list(db.session.scalars(sa.select(Document).where(
                Document.code.in_(codes), Document.current_version_id.is_not(None), Document.obsolete_at.is_(None))))
            if dept not in depts or organiser not in users or trainer not in users:
                continue
            doc_ids = [d.id for d in documents]
            day = today + timedelta(days=days)
            fields = sessions.SessionFields(
                topic=topic, trainer_id=users[trainer].id, department_id=depts[dept].id,
                starts_at=_local(day, start), ends_at=_local(day, end), place=place, notes=notes,
                document_ids=doc_ids, attendee_ids=_invitees(doc_ids, depts[dept], users[trainer]))
            session = sessions.create_session(users[organiser], fields, request_key=key)
            created += 1
        if days < 0 and len(session.attendees) > 1:
            # Everyone came but the last one invited.
            present = [a.user_id for a in session.attendees[:-1]]
            sessions.sign_attendees(session.trainer, session.id, present, DEMO_PASSWORD)
        db.session.flush()
    db.session.commit()
    return created
