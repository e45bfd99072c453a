"""What the feedback tests share: service points, kiosk pages and their form tokens."""
from __future__ import annotations

import re

from portal.extensions import db
from portal.feedback import codes, services
from portal.feedback.models import Feedback, ServicePoint, StaffCode
from tests.helpers import count, create_department, create_user

TOKEN_RE = re.compile(r'name="form_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="form_token"')
QUERY_CODE_RE = re.compile(r'id="query-code"[^>]*>([A-Z0-9-]+)<')


def make_point(code: str = "KF01", department=None, *, name: str = "一号窗口", categories: str = "", active=True,
               process=None) -> ServicePoint:
    department = department or create_department()
    point = ServicePoint(code=code, name=name, location="一楼大厅", department_id=department.id,
                         process_id=process.id if process is not None else None, opening_hours="周一至周五 09:00-17:00",
                         categories_text=categories, active=active, qr_secret=codes.new_point_secret())
    db.session.add(point)
    db.session.flush()
    return point


def make_staff_code(point: ServicePoint, user, code: str | None = None) -> StaffCode:
    staff_code = StaffCode(code=code or f"{point.code}-01", service_point_id=point.id, user_id=user.id)
    db.session.add(staff_code)
    db.session.flush()
    return staff_code


def kiosk_path(point: ServicePoint, staff_code: StaffCode | None = None) -> str:
    code = staff_code.code if staff_code is not None else point.code
    return f"/k/{code}/{codes.kiosk_signature(point.qr_secret, code)}"


def form_token(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "no form token on the page"
    return match.group(1) or match.group(2)


def query_code(html: str) -> str:
    match = QUERY_CODE_RE.search(html)
    assert match, "no 查询码 on the page"
    return match.group(1)


def open_form(client, path: str) -> dict:
    """GET the kiosk page; return the fields a browser would send back (token included)."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return {"form_token": form_token(response.get_data(as_text=True)), "csrf_token": client.csrf_token()}


def feedback_count(*where) -> int:
    return count(Feedback, *where)


def received(comment: str) -> Feedback:
    return db.session.scalar(db.select(Feedback).where(Feedback.comment == comment))


def receive(point, rating: int = 5, comment: str = "", key: str | None = None, **submission):
    """Store one rating through the service, as the kiosk would."""
    return services.receive(services.Submission(rating=rating, comment=comment, **submission),
                            services.Intake(channel="kiosk", idempotency_key=key or services.new_request_key(),
                                            point=point))


__all__ = ["make_point", "make_staff_code", "kiosk_path", "form_token", "query_code", "open_form", "feedback_count",
           "received", "receive", "create_user", "create_department"]
