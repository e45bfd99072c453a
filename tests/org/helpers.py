"""Helpers of the organisation tests (the ones every domain uses are in tests/helpers.py)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.core.uploads import PendingImport
from portal.extensions import db
from portal.org.models import Department, Position, User
from tests.helpers import audit_count, count

NON_ADMIN_ROLES = {
    "employee": (EMPLOYEE,),
    "dept_head": (DEPT_HEAD,),
    "quality_manager": (QUALITY_MANAGER,),
    "every_role_but_admin": (EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER),
}
USER_ROW_RE = re.compile(r'<tr id="user-(\d+)"')
#: services.temporary_password(): six letters/digits from an unambiguous alphabet, then four digits.
TEMP_PASSWORD_RE = re.compile(r"(?<![A-Za-z0-9])([abcdefghjkmnpqrstuvwxyz23456789]{6}[2-9]{4})(?![A-Za-z0-9])")


def user_row_ids(markup: str) -> list[int]:
    return [int(i) for i in USER_ROW_RE.findall(markup)]


def user_count() -> int:
    return count(User)


def db_state() -> dict[str, int]:
    """Row counts of everything the organisation code writes."""
    return {
        "users": count(User),
        "departments": count(Department),
        "positions": count(Position),
        "imports": count(PendingImport),
        "audit": audit_count(),
    }


def user_by_name(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))
