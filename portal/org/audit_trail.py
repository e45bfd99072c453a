"""How the organisation's audit events read (called from hooks.setup()): action labels, object names with
links (one query per object type per page), field labels and role names."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels, register_object_type
from portal.core.roles import ADMIN, ROLE_LABELS
from portal.extensions import db
from portal.org.models import Department, Position, User

_ACTIVE = {True: _l("Active"), False: _l("Inactive")}


def _users(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {row.id: (row.display_name or row.username, url_for("org.user_edit", user_id=row.id)) for row in rows}


def _departments(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Department.id, Department.name).where(Department.id.in_(ids)))
    return {row.id: (row.name, url_for("org.department_detail", department_id=row.id)) for row in rows}


def _positions(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(Position.id, Position.name, Position.department_id, Department.name.label("dept"))
        .join(Department, Department.id == Position.department_id).where(Position.id.in_(ids)))
    return {row.id: (f"{row.dept} · {row.name}", url_for("org.department_detail", department_id=row.department_id))
            for row in rows}


def register() -> None:
    register_action_labels({
        "user.create": lazy_pgettext("audit action", "Created user"),
        "user.update": lazy_pgettext("audit action", "Edited user"),
        "user.activate": lazy_pgettext("audit action", "Activated user"),
        "user.deactivate": lazy_pgettext("audit action", "Deactivated user"),
        "user.password_reset": lazy_pgettext("audit action", "Reset password"),
        "department.create": lazy_pgettext("audit action", "Created department"),
        "department.update": lazy_pgettext("audit action", "Edited department"),
        "department.activate": lazy_pgettext("audit action", "Activated department"),
        "department.deactivate": lazy_pgettext("audit action", "Deactivated department"),
        "position.create": lazy_pgettext("audit action", "Created position"),
        "position.update": lazy_pgettext("audit action", "Renamed position"),
        "position.activate": lazy_pgettext("audit action", "Activated position"),
        "position.deactivate": lazy_pgettext("audit action", "Deactivated position"),
        "roster_import.upload": lazy_pgettext("audit action", "Uploaded roster"),
        "roster_import.apply": lazy_pgettext("audit action", "Applied roster import"),
    })
    register_field_labels({"active": _l("Active"), "user_id": lazy_pgettext("audit object", "User"),
                           "department_id": _l("Department")},
                          values={"user_id": "user", "department_id": "department"})
    register_object_type("user", lazy_pgettext("audit object", "User"), resolve=_users, fields={
        "username": _l("Username"), "display_name": _l("Name"), "email": _l("Email"),
        "department_id": _l("Department"), "position_id": _l("Position"), "active": _l("Active"),
        "roles": _l("Roles"),
    }, values={"department_id": "department", "position_id": "position", "roles": ROLE_LABELS, "active": _ACTIVE},
       link_roles=(ADMIN,))
    register_object_type("department", lazy_pgettext("audit object", "Department"), resolve=_departments, fields={
        "code": _l("Code"), "name": _l("Name"), "parent_id": _l("Parent department"), "head_id": _l("Head"),
        "active": _l("Active"), "sort_order": _l("Sort order"),
    }, values={"parent_id": "department", "head_id": "user", "active": _ACTIVE}, link_roles=(ADMIN,))
    register_object_type("position", lazy_pgettext("audit object", "Position"), resolve=_positions, fields={
        "name": _l("Name"), "department_id": _l("Department"), "active": _l("Active"),
    }, values={"department_id": "department", "active": _ACTIVE}, link_roles=(ADMIN,))
    register_object_type("pending_import", lazy_pgettext("audit object", "Import file"))
