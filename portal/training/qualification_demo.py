"""Demo qualifications: three types (上岗证, 反洗钱培训合格证, 急救证) required of the demo organisation's
counter, service and hotline positions, and certificates for the people in them, dated from the day the demo
is seeded: most valid, a few expiring within 60 days, exactly one expired, and a few missing, so that the
position × person view, the reminders and the heads' to-dos have something to show.

Idempotent: types are looked up by name, links by (position, type), certificates by (person, type); a
second run adds nothing. Runs after the organisation (order 60); without it there is nothing to link.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.audit.services import record
from portal.extensions import db
from portal.org.models import Department, Position, User
from portal.sop.services import add_months
from portal.training.models import Certificate, QualificationType
from portal.workcal.services import local_today

#: name, validity in months, description, issuer, number prefix (digits: numbers are shown as they are, and
#: the interface has no Latin words), [(department code, position)]
TYPES = [
    ("上岗证", 36, "柜面及客服岗位上岗资格证书", "本行人力资源部", "11",
     [("OPS", "柜员"), ("KF", "客服专员"), ("KF", "大堂经理"), ("KF-HL", "热线坐席")]),
    ("反洗钱培训合格证", 12, "反洗钱与反恐怖融资年度培训考试合格证书", "本行合规部", "22",
     [("OPS", "柜员"), ("OPS", "运营专员"), ("KF", "大堂经理")]),
    ("急救证", 24, "红十字会救护员证", "市红十字会", "33", [("KF", "大堂经理")]),
]

#: Days left before expiry for the certificates that are not simply valid: (username, type) → days
#: (negative: expired). Everyone else in a required position holds a certificate with a year or more left,
#: except the MISSING pairs (between 90 and 329 days left).
SPECIAL = {
    ("zhangsan", "上岗证"): 20,
    ("wangwu", "反洗钱培训合格证"): 45,
    ("sunqi", "急救证"): 52,
    ("zhouba", "上岗证"): 28,
    ("zhaoliu", "反洗钱培训合格证"): -12,
}
MISSING = {("panwen", "上岗证"), ("jiangbo", "反洗钱培训合格证")}


def _link_positions(qualification_type: QualificationType, wanted) -> int:
    added = 0
    for dept_code, position_name in wanted:
        position = db.session.scalar(sa.select(Position).join(Department, Department.id == Position.department_id)
                                     .where(Department.code == dept_code, Position.name == position_name))
        if position is not None and position not in qualification_type.positions:
            qualification_type.positions.append(position)
            added += 1
    return added


def seed_qualifications() -> int:
    today = local_today()
    created = 0
    admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
    for name, months, description, issuer, prefix, positions in TYPES:
        qualification_type = db.session.scalar(sa.select(QualificationType).where(QualificationType.name == name))
        if qualification_type is None:
            qualification_type = QualificationType(name=name, validity_months=months, description=description)
            db.session.add(qualification_type)
            db.session.flush()
            record("qualification.type_create", qualification_type,
                   after={"name": name, "validity_months": months}, extra={"via": "seed-demo"})
            created += 1
        created += _link_positions(qualification_type, positions)
        db.session.flush()
        holders = db.session.scalars(
            sa.select(User).where(User.active.is_(True),
                                  User.position_id.in_([p.id for p in qualification_type.positions] or [-1]))
            .order_by(User.username))
        for n, user in enumerate(holders, start=1):
            if (user.username, name) in MISSING:
                continue
            if db.session.scalar(sa.select(Certificate.id).where(Certificate.type_id == qualification_type.id,
                                                                 Certificate.user_id == user.id)) is not None:
                continue
            left = SPECIAL.get((user.username, name), 90 + (37 * n) % 240)
            expires_on = today + timedelta(days=left)
            issued_on = add_months(expires_on, -months)
            number = f"{prefix}{issued_on.year}{user.id:06d}"
            certificate = Certificate(user_id=user.id, type_id=qualification_type.id, number=number, issuer=issuer,
                                      issued_on=issued_on, expires_on=expires_on, created_by_id=admin.id if admin else user.id)
            db.session.add(certificate)
            db.session.flush()
            record("qualification.certificate_add", certificate,
                   after={"user_id": user.id, "number": number, "expires_on": expires_on.isoformat()},
                   extra={"via": "seed-demo"})
            created += 1
    db.session.commit()
    return created
