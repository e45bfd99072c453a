"""Seed a service point (with its own category chips) and a clerk's staff code into a running portal's
database for the kiosk browser tests, through the services (so the audit trail is real), and print what the
tests need as JSON: the codes and the signed kiosk paths (``/k/<code>/<sig>``).

Run in the live server's environment: ``python -m tests.e2e.seed_kiosk`` (see tests/e2e/test_kiosk.py).
"""
from __future__ import annotations

import json
import secrets

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.feedback import codes, services
from portal.org.models import Department, User

MANAGER = "admin"   # administrators create service points
CLERK = "zhangsan"  # 张三, 客服部
CATEGORIES = ("服务态度", "办理效率", "等候时间", "其他")


def _path(secret: str, code: str) -> str:
    return f"/k/{code}/{codes.kiosk_signature(secret, code)}"


def seed() -> dict:
    suffix = secrets.token_hex(2).upper()
    manager = db.session.scalar(sa.select(User).where(User.username == MANAGER))
    clerk = db.session.scalar(sa.select(User).where(User.username == CLERK))
    department = db.session.scalar(sa.select(Department).where(Department.code == "KF"))
    point = services.create_point(manager, services.PointFields(
        code=f"E2E{suffix}", name="客服中心一号窗口", location="一楼大厅东侧", department_id=department.id,
        process_id=None, opening_hours="周一至周五 09:00-17:00", categories_text="\n".join(CATEGORIES)))
    staff_code = services.add_staff_code(manager, point, clerk.id)
    db.session.commit()
    return {"point_id": point.id, "code": point.code, "name": point.name, "categories": list(point.categories),
            "path": _path(point.qr_secret, point.code), "staff_code": staff_code.code,
            "staff_path": _path(point.qr_secret, staff_code.code), "clerk": clerk.display_name}


def main() -> None:
    app = create_app()
    with app.app_context():
        print(json.dumps(seed(), ensure_ascii=False))


if __name__ == "__main__":
    main()
