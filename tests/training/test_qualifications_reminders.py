"""上岗资格: the daily expiry reminders (60 and 30 days before, to the holder and their department head, each
step once, idempotent when re-run), their schedule and notification kind, and the demo data."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.core.roles import EMPLOYEE
from portal.extensions import db
from portal.notify.models import Notification
from portal.org.models import Position
from portal.training import qualifications as q
from portal.training.models import Certificate, QualificationType
from portal.training.qualification_jobs import expiry_reminders

EXPIRES = date(2026, 9, 30)


@pytest.fixture
def holder(org, make_user):
    kf = org.depts["KF"]
    clerk = Position(department_id=kf.id, name="客服专员")
    db.session.add(clerk)
    db.session.flush()
    licence = QualificationType(name="上岗证", validity_months=36, positions=[clerk])
    db.session.add(licence)
    org.employee.position_id = clerk.id
    db.session.commit()
    certificate = q.add_certificate(org.qm, org.employee.id, q.CertificateFields(
        licence.id, "SG-1", "人力资源部", date(2023, 9, 30), EXPIRES), today=date(2026, 1, 1))
    db.session.commit()
    org.licence, org.certificate = licence, certificate
    return org


def notes(certificate=None):
    db.session.expire_all()
    query = sa.select(Notification).where(Notification.kind == q.KIND_EXPIRY).order_by(Notification.id)
    if certificate is not None:
        query = query.where(Notification.dedupe_key.like(f"qualification.expiry:{certificate.id}:%"))
    return list(db.session.scalars(query))


def run(day: date) -> int:
    return expiry_reminders(day.isoformat())["notified"]


@pytest.mark.usefixtures("drain_queue")
def test_reminders_at_60_and_30_days_each_once(holder):
    cert, person, head = holder.certificate, holder.employee, holder.heads["KF"]
    assert run(EXPIRES - timedelta(days=61)) == 0 and notes() == []
    # 60 days before is Saturday 2026-08-01: a day off, nothing is sent; Monday 08-03 is the first working day.
    assert run(EXPIRES - timedelta(days=60)) == 0 and run(EXPIRES - timedelta(days=59)) == 0
    assert run(EXPIRES - timedelta(days=58)) == 2
    first = notes()
    assert {(n.recipient_id, n.dedupe_key) for n in first} == {
        (person.id, f"qualification.expiry:{cert.id}:60"), (head.id, f"qualification.expiry:{cert.id}:60")}
    assert all(n.link == f"/training/qualifications/people/{person.id}" for n in first)
    assert all(EXPIRES.isoformat() in n.title for n in first)
    assert person.display_name in next(n.title for n in first if n.recipient_id == head.id)
    # re-runs the same day and the days after add nothing until the 30-day step (Monday 08-31)
    assert run(EXPIRES - timedelta(days=58)) == 0
    assert run(EXPIRES - timedelta(days=45)) == 0
    assert run(EXPIRES - timedelta(days=31)) == 0
    assert len(notes()) == 2
    assert run(EXPIRES - timedelta(days=30)) == 2
    assert run(EXPIRES - timedelta(days=30)) == 0
    assert run(EXPIRES - timedelta(days=10)) == 0  # Sunday 09-20, a 调休 working day
    assert run(EXPIRES - timedelta(days=1)) == 0
    assert run(EXPIRES) == 0
    assert run(EXPIRES + timedelta(days=1)) == 0  # expired: the heads' to-do takes over
    keys = sorted((n.recipient_id, n.dedupe_key) for n in notes())
    assert keys == sorted([(person.id, f"qualification.expiry:{cert.id}:60"), (head.id, f"qualification.expiry:{cert.id}:60"),
                           (person.id, f"qualification.expiry:{cert.id}:30"), (head.id, f"qualification.expiry:{cert.id}:30")])


@pytest.mark.usefixtures("drain_queue")
def test_a_certificate_entered_late_gets_only_the_step_it_is_in(holder):
    assert run(EXPIRES - timedelta(days=20)) == 2
    assert {n.dedupe_key.rsplit(":", 1)[1] for n in notes()} == {"30"}
    assert run(EXPIRES - timedelta(days=10)) == 0


@pytest.mark.usefixtures("drain_queue")
def test_no_reminder_for_renewed_withdrawn_or_deactivated(holder, make_user):
    q.add_certificate(holder.qm, holder.employee.id, q.CertificateFields(
        holder.licence.id, "SG-2", "", date(2026, 7, 1), None), today=date(2026, 7, 1))
    assert run(EXPIRES - timedelta(days=60)) == 0
    other = make_user("other_kf", roles=(EMPLOYEE,), department=holder.depts["KF"])
    withdrawn = q.add_certificate(holder.qm, other.id, q.CertificateFields(
        holder.licence.id, "SG-3", "", date(2024, 1, 1), EXPIRES), today=date(2026, 1, 1))
    q.revoke_certificate(holder.qm, withdrawn, "错误")
    db.session.commit()
    assert run(EXPIRES - timedelta(days=30)) == 0 and notes() == []


@pytest.mark.usefixtures("drain_queue")
def test_a_head_holding_one_is_told_once_and_a_department_without_head_works(holder, make_user, make_department):
    head = holder.heads["KF"]
    own = q.add_certificate(holder.qm, head.id, q.CertificateFields(holder.licence.id, "SG-H", "", date(2024, 1, 1),
                                                                      EXPIRES + timedelta(days=3)),
                            today=date(2026, 1, 1))
    db.session.commit()
    assert run(EXPIRES - timedelta(days=30)) == 3  # employee + head for SG-1; the head once for SG-H
    assert [n.recipient_id for n in notes(own)] == [head.id]
    headless = make_user("alone", roles=(EMPLOYEE,), department=make_department())
    lone = q.add_certificate(holder.qm, headless.id, q.CertificateFields(holder.licence.id, "SG-X", "", date(2024, 1, 1),
                                                                         EXPIRES), today=date(2026, 1, 1))
    db.session.commit()
    assert run(EXPIRES - timedelta(days=29)) == 1
    assert [n.recipient_id for n in notes(lone)] == [headless.id]


def test_the_job_is_scheduled_and_the_kind_registered():
    from portal.core.registry import cron_jobs
    from portal.notify.registry import notification_kinds

    job = cron_jobs.get("qualification_expiry")
    assert job is not None and job.func is expiry_reminders and job.cron
    assert notification_kinds.get(q.KIND_EXPIRY) is not None


# -- demo data ------------------------------------------------------------------------------------
def test_the_demo_seeder_is_idempotent_and_shows_every_state(app):
    from portal.core.registry import demo_seeders
    from portal.org import demo as org_demo
    from portal.training.qualification_demo import seed_qualifications
    from portal.workcal.services import local_today

    assert demo_seeders.get("qualifications").fn is seed_qualifications
    org_demo.seed()
    created = seed_qualifications()
    assert created > 0
    types = {t.name: t for t in db.session.scalars(sa.select(QualificationType))}
    assert set(types) == {"上岗证", "反洗钱培训合格证", "急救证"}
    assert all(t.positions for t in types.values())
    today = local_today()
    certificates = list(db.session.scalars(sa.select(Certificate)))
    expired = [c for c in certificates if c.expires_on < today]
    expiring = [c for c in certificates if today <= c.expires_on <= today + timedelta(days=60)]
    assert len(expired) == 1 and expired[0].user.username == "zhaoliu"
    assert 2 <= len(expiring) <= 6
    assert all(c.issued_on <= today for c in certificates)
    before = (len(certificates), sum(len(t.positions) for t in types.values()))
    assert seed_qualifications() == 0
    db.session.expire_all()
    assert (db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)),
            sum(len(t.positions) for t in db.session.scalars(sa.select(QualificationType)))) == before
    # the demo's KF head sees a department with a missing and an expiring qualification
    from portal.org.models import User

    head_kf = db.session.scalar(sa.select(User).where(User.username == "head_kf"))
    grid = q.department_grid(head_kf, head_kf.department_id, today)
    statuses = {c.status for row in grid.rows for c in row.cells.values()}
    assert {q.VALID, q.EXPIRING, q.MISSING} <= statuses and grid.blocked_count >= 1
