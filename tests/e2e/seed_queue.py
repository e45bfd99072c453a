"""Seed a service point and a 差评 with its ticket into a running portal's database for the queue's browser test,
through the services (demo feedback is bulk-inserted without tickets), and print what the test needs as JSON.

Run in the live server's environment: ``python -m tests.e2e.seed_queue`` (see tests/e2e/test_queue.py).
"""
from __future__ import annotations

import json
import secrets

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.feedback import services
from portal.org.models import Department, User
from portal.triage.services import open_ticket

MANAGER, HEAD, EMPLOYEE = "admin", "head_kf", "zhangsan"


def seed() -> dict:
    suffix = secrets.token_hex(2).upper()
    manager = db.session.scalar(sa.select(User).where(User.username == MANAGER))
    employee = db.session.scalar(sa.select(User).where(User.username == EMPLOYEE))
    department = db.session.scalar(sa.select(Department).where(Department.code == "KF"))
    point = services.create_point(manager, services.PointFields(
        code=f"Q{suffix}", name="客服中心二号窗口", location="一楼大厅", department_id=department.id,
        process_id=None, opening_hours="", categories_text=""))
    received = services.receive(services.Submission(rating=2, comment=f"排队太久 {suffix}"), services.Intake(
        channel="kiosk", idempotency_key=f"e2e-queue:{suffix}", point=point))
    ticket = open_ticket(received.feedback)  # made by the signal already; found again here
    db.session.commit()
    return {"ticket_id": ticket.id, "query_code": received.query_code, "head": HEAD, "employee": EMPLOYEE,
            "employee_id": employee.id, "comment": received.feedback.comment}


def main() -> None:
    app = create_app()
    with app.app_context():
        print(json.dumps(seed(), ensure_ascii=False))


if __name__ == "__main__":
    main()
