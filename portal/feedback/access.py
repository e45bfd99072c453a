"""Who may see and do what with feedback and service points. Services call these; views never decide.

* Quality managers and administrators see all feedback; a department head the feedback of the departments
  they head; an employee that of their own department; whoever entered a complaint sees that one.
* A rating that names a clerk (一人一码) shows the clerk only to quality managers and to the head of the
  clerk's department — not to administrators, colleagues or the clerk.
* Service points are created and edited by administrators and quality managers; the head of a point's
  department also manages its staff codes and prints its posters. Rotating a point's QR key is an
  administrator's decision alone (it retires every printed poster).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_request_context

from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.extensions import db
from portal.org.models import Department, User


def is_manager(user) -> bool:
    return user is not None and user.is_authenticated and user.has_role(ADMIN, QUALITY_MANAGER)


def is_quality_manager(user) -> bool:
    return user is not None and user.is_authenticated and user.has_role(QUALITY_MANAGER)


def headed_department_ids(user) -> frozenset[int]:
    """The departments ``user`` heads (cached for the request)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cache = g.setdefault("_feedback_headed", {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = frozenset(db.session.scalars(sa.select(Department.id).where(Department.head_id == user.id)))
    return cache[user.id]


def visible_department_ids(user) -> frozenset[int] | None:
    """The departments whose feedback ``user`` may see; None: all of them."""
    if is_manager(user):
        return None
    own = {user.department_id} if user.department_id else set()
    return frozenset(own | headed_department_ids(user))


def may_view(user, feedback) -> bool:
    visible = visible_department_ids(user)
    return visible is None or feedback.department_id in visible or feedback.created_by_id == user.id


def may_see_staff(user, feedback) -> bool:
    """The clerk a rating names: quality managers and the head of the clerk's department only."""
    if feedback.staff_user_id is None:
        return False
    if is_quality_manager(user):
        return True
    staff = feedback.staff_user if feedback.staff_user is not None else db.session.get(User, feedback.staff_user_id)
    return staff is not None and staff.department_id in headed_department_ids(user)


def may_moderate(user, feedback) -> bool:
    """Mark as spam or not, give the customer a new 查询码."""
    return is_manager(user) or feedback.department_id in headed_department_ids(user)


def may_see_query_code(user, feedback) -> bool:
    return may_moderate(user, feedback) or feedback.created_by_id == user.id


def may_manage_points(user) -> bool:
    return is_manager(user)


def may_rotate(user) -> bool:
    return user is not None and user.is_authenticated and user.has_role(ADMIN)


def may_look_after_point(user, point) -> bool:
    """Staff codes and posters of ``point``."""
    return is_manager(user) or point.department_id in headed_department_ids(user)


def may_see_points(user) -> bool:
    return is_manager(user) or bool(headed_department_ids(user))
