"""Organisation rules: departments (a tree with heads), positions, users and roles.

Every function takes the acting user, checks that the actor may do it, flushes but never commits,
and writes an audit event for each state change.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from portal import signals
from portal.audit.services import record, snapshot
from portal.org.accounts import normalize_username, set_password
from portal.core.errors import NotFound, ServiceError
from portal.core.trees import would_cycle
from portal.extensions import db
from portal.org.models import Department, Position, User, UserRole
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER, ROLES
from portal.web.access import ensure_role

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
DEPT_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
USER_FIELDS = ("username", "display_name", "email", "department_id", "position_id", "active", "roles")
DEPT_FIELDS = ("code", "name", "parent_id", "head_id", "active", "sort_order")


def _user_snapshot(user: User) -> dict:
    data = snapshot(user, USER_FIELDS[:-1])
    data["roles"] = sorted(user.roles)
    return data


# -- lookups --------------------------------------------------------------------------------------
def get_department(department_id: int) -> Department:
    dept = db.session.get(Department, department_id)
    if dept is None:
        raise NotFound()
    return dept


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def department_tree(include_inactive: bool = True) -> list[tuple[Department, int]]:
    """Departments in tree order with their depth, for indented lists and select boxes."""
    query = sa.select(Department).order_by(Department.sort_order, Department.code)
    if not include_inactive:
        query = query.where(Department.active.is_(True))
    depts = db.session.scalars(query).all()
    by_parent: dict[int | None, list[Department]] = {}
    ids = {d.id for d in depts}
    for d in depts:
        by_parent.setdefault(d.parent_id if d.parent_id in ids else None, []).append(d)
    out: list[tuple[Department, int]] = []

    def walk(parent_id, depth):
        for d in by_parent.get(parent_id, []):
            out.append((d, depth))
            walk(d.id, depth + 1)

    walk(None, 0)
    return out


def search_users(query: str = "", department_id: int | None = None, active: bool | None = None):
    """A select() of users matching the text (username, name or email) and filters, ordered by username."""
    stmt = sa.select(User).order_by(User.username)
    q = (query or "").strip()[:100]
    if q:
        stmt = stmt.where(
            sa.or_(
                User.username.icontains(q, autoescape=True),
                User.display_name.icontains(q, autoescape=True),
                User.email.icontains(q, autoescape=True),
            )
        )
    if department_id:
        stmt = stmt.where(User.department_id == department_id)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return stmt


# -- validation helpers ---------------------------------------------------------------------------
def user_page(query: str, department_id: int | None, active: bool | None, page: int, per_page: int):
    """One page of ``search_users``."""
    return db.paginate(search_users(query, department_id, active), page=page, per_page=per_page, error_out=False)


def active_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username)))


# -- who someone is, for the domains' permission checks ------------------------------------------
def is_active_user(user) -> bool:
    """A logged-in (or acting) user whose account is active."""
    return user is not None and getattr(user, "is_authenticated", False) and user.active


def is_manager(user) -> bool:
    """Quality managers and administrators, active: every department's records."""
    return is_active_user(user) and user.has_role(ADMIN, QUALITY_MANAGER)


def headed_department_ids(user, *, active_only: bool = False) -> list[int]:
    """The departments ``user`` heads, by id (only the active ones with ``active_only``)."""
    if not is_active_user(user):
        return []
    query = sa.select(Department.id).where(Department.head_id == user.id)
    if active_only:
        query = query.where(Department.active.is_(True))
    return list(db.session.scalars(query.order_by(Department.id)))


def heads_department(user, department_id: int | None) -> bool:
    """``user`` is the head of ``department_id``."""
    if not is_active_user(user) or department_id is None:
        return False
    dept = db.session.get(Department, department_id)
    return dept is not None and dept.head_id == user.id


def active_users_with_role(role: str) -> list[User]:
    """The active users holding ``role`` (e.g. every quality manager, for escalations), by id."""
    return list(db.session.scalars(sa.select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == role, User.active.is_(True)).order_by(User.id)))


def active_positions(department_id: int) -> list[Position]:
    return list(db.session.scalars(sa.select(Position).where(
        Position.department_id == department_id, Position.active.is_(True)).order_by(Position.name)))


def position_choices() -> list[tuple[int, str]]:
    """Active positions of active departments, as "部门 · 岗位", in one query."""
    rows = db.session.execute(
        sa.select(Position.id, Position.name, Department.name.label("department"))
        .join(Department, Department.id == Position.department_id)
        .where(Position.active.is_(True), Department.active.is_(True))
        .order_by(Department.sort_order, Department.code, Position.name))
    return [(r.id, f"{r.department} · {r.name}") for r in rows]


def positions_of(dept: Department) -> list[Position]:
    return list(db.session.scalars(sa.select(Position).where(Position.department_id == dept.id).order_by(Position.name)))


def members_of(dept: Department) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.department_id == dept.id).order_by(User.active.desc(), User.username)))


def active_member_counts() -> dict[int, int]:
    """{department_id: number of active users}."""
    return dict(db.session.execute(
        sa.select(User.department_id, sa.func.count()).where(User.active.is_(True)).group_by(User.department_id)
    ).all())


def update_position(actor: User, position: Position, *, name: str | None = None, active: bool | None = None) -> Position:
    """Rename a position, or (``active`` given) deactivate or reactivate it."""
    if active is not None:
        return set_position_active(actor, position, active)
    return rename_position(actor, position, name or "")


def clean_email(value: str, field: str = "email") -> str:
    value = (value or "").strip()
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ServiceError((field, _("“%(value)s” is not a valid email address.", value=value[:80])))


def mask_email(value: str) -> str:
    """An address as the audit trail and the logs may show it: its first character, then ``***``, then the
    domain (``kehu@example.cn`` → ``k***@example.cn``). Enough for staff to tell two addresses apart, not
    enough to write to."""
    local, sep, domain = (value or "").strip().rpartition("@")
    if not sep:
        return "***" if value else ""
    return f"{local[:1]}***@{domain}"


def clean_username(value: str, field: str = "username") -> str:
    name = normalize_username(value)
    if not USERNAME_RE.match(name):
        raise ServiceError(
            (field, _("A username has 2–64 characters: lowercase letters, digits, dot, dash or underscore."))
        )
    return name


def _clean_roles(roles) -> set[str]:
    roles = set(roles or ()) or {EMPLOYEE}
    unknown = roles - set(ROLES)
    if unknown:
        raise ServiceError(("roles", _("Unknown role: %(role)s", role=", ".join(sorted(unknown)))))
    return roles


def _check_position(position_id: int | None, department_id: int | None) -> None:
    if position_id is None:
        return
    position = db.session.get(Position, position_id)
    if position is None or position.department_id != department_id:
        raise ServiceError(("position_id", _("The position does not belong to the chosen department.")))


def _active_admin_count(excluding: User | None = None) -> int:
    from portal.org.models import UserRole

    stmt = (
        sa.select(sa.func.count(sa.distinct(User.id)))
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == ADMIN, User.active.is_(True))
    )
    if excluding is not None:
        stmt = stmt.where(User.id != excluding.id)
    return db.session.scalar(stmt) or 0


def temporary_password() -> str:
    """A one-time password the administrator hands over; the user must change it at first login."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6)) + "".join(secrets.choice("23456789") for _ in range(4))


# -- users ----------------------------------------------------------------------------------------
@dataclass
class UserData:
    username: str
    display_name: str
    email: str
    department_id: int | None
    position_id: int | None = None
    roles: tuple[str, ...] = (EMPLOYEE,)


def _validate_user_data(data: UserData, existing: User | None) -> tuple[str, str, str, set[str]]:
    errors: list[tuple[str | None, str]] = []
    username = display_name = email = ""
    roles: set[str] = set()
    try:
        username = clean_username(data.username)
    except ServiceError as exc:
        errors += exc.errors
    display_name = (data.display_name or "").strip()
    if not display_name:
        errors.append(("display_name", _("Please enter the name.")))
    elif len(display_name) > 100:
        errors.append(("display_name", _("The name may have at most 100 characters.")))
    try:
        email = clean_email(data.email)
    except ServiceError as exc:
        errors += exc.errors
    try:
        roles = _clean_roles(data.roles)
    except ServiceError as exc:
        errors += exc.errors
    if data.department_id is not None and db.session.get(Department, data.department_id) is None:
        errors.append(("department_id", _("Unknown department.")))
    else:
        try:
            _check_position(data.position_id, data.department_id)
        except ServiceError as exc:
            errors += exc.errors
    if username:
        clash = db.session.scalar(sa.select(User).where(User.username == username))
        if clash is not None and clash is not existing:
            errors.append(("username", _("The username “%(name)s” is already taken.", name=username)))
    if errors:
        raise ServiceError(*errors)
    return username, display_name, email, roles


def create_user(actor: User, data: UserData, password: str | None = None) -> tuple[User, str | None]:
    """Create a user. Without ``password`` a temporary one is generated and returned (shown once)."""
    ensure_role(actor, ADMIN)
    username, display_name, email, roles = _validate_user_data(data, None)
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        department_id=data.department_id,
        position_id=data.position_id,
    )
    user.set_roles(roles)
    db.session.add(user)
    temp = None
    if password is None:
        temp = temporary_password()
        set_password(user, temp, must_change=True)
    else:
        set_password(user, password, must_change=False)
    db.session.flush()
    record("user.create", user, actor=actor, after=_user_snapshot(user))
    signals.user_joined.send(user, actor=actor)
    return user, temp


def update_user(actor: User, user: User, data: UserData) -> User:
    ensure_role(actor, ADMIN)
    before = _user_snapshot(user)
    username, display_name, email, roles = _validate_user_data(data, user)
    if ADMIN in user.roles and ADMIN not in roles and _active_admin_count(excluding=user) == 0:
        raise ServiceError(("roles", _("The last active administrator cannot lose the administrator role.")))
    placed_before = {"department_id": user.department_id, "position_id": user.position_id}
    user.username, user.display_name, user.email = username, display_name, email
    user.department_id, user.position_id = data.department_id, data.position_id
    user.set_roles(roles)
    db.session.flush()
    after = _user_snapshot(user)
    if after != before:
        record("user.update", user, actor=actor, before=before, after=after)
    placed_after = {"department_id": user.department_id, "position_id": user.position_id}
    if placed_after != placed_before:
        signals.user_moved.send(user, before=placed_before, after=placed_after, actor=actor)
    return user


def set_user_active(actor: User, user: User, active: bool) -> User:
    """Deactivate or reactivate. Users are never deleted: they may have signed records."""
    ensure_role(actor, ADMIN)
    if user.active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise ServiceError((None, _("You cannot deactivate your own account.")))
        if ADMIN in user.roles and _active_admin_count(excluding=user) == 0:
            raise ServiceError((None, _("The last active administrator cannot be deactivated.")))
        user.session_nonce = secrets.token_hex(8)  # logs the user out everywhere
    user.active = active
    db.session.flush()
    record("user.activate" if active else "user.deactivate", user, actor=actor)
    if not active:
        signals.user_deactivated.send(user, actor=actor)
    else:
        signals.user_joined.send(user, actor=actor)
    return user


def reset_password(actor: User, user: User) -> str:
    """Give the user a new temporary password, to be changed at the next login."""
    ensure_role(actor, ADMIN)
    temp = temporary_password()
    set_password(user, temp, must_change=True)
    record("user.password_reset", user, actor=actor)
    return temp


# -- departments ----------------------------------------------------------------------------------
@dataclass
class DepartmentData:
    code: str
    name: str
    parent_id: int | None = None
    head_id: int | None = None
    sort_order: int = 0


def _validate_department(data: DepartmentData, existing: Department | None) -> tuple[str, str]:
    errors: list[tuple[str | None, str]] = []
    code = (data.code or "").strip().upper()
    name = (data.name or "").strip()
    if not DEPT_CODE_RE.match(code):
        errors.append(("code", _("A department code has 1–32 letters, digits, dash or underscore.")))
    if not name:
        errors.append(("name", _("Please enter the name.")))
    elif len(name) > 100:
        errors.append(("name", _("The name may have at most 100 characters.")))
    for column, value, field in ((Department.code, code, "code"), (Department.name, name, "name")):
        if not value:
            continue
        clash = db.session.scalar(sa.select(Department).where(sa.func.lower(column) == value.lower()))
        if clash is not None and clash is not existing:
            errors.append((field, _("“%(value)s” is already used by another department.", value=value)))
    if data.parent_id is not None:
        parent = db.session.get(Department, data.parent_id)
        if parent is None:
            errors.append(("parent_id", _("Unknown department.")))
        elif existing is not None and would_cycle(existing, parent):
            errors.append(("parent_id", _("A department cannot be placed under itself or its own sub-department.")))
    if data.head_id is not None:
        head = db.session.get(User, data.head_id)
        if head is None or not head.active:
            errors.append(("head_id", _("The head must be an active user.")))
    if errors:
        raise ServiceError(*errors)
    return code, name


def _grant_head_role(actor: User, dept: Department) -> None:
    head = dept.head if dept.head_id else None
    if head is not None and DEPT_HEAD not in head.roles:
        before = sorted(head.roles)
        head.set_roles(head.roles | {DEPT_HEAD})
        record("user.update", head, actor=actor, before={"roles": before}, after={"roles": sorted(head.roles)})


def create_department(actor: User, data: DepartmentData) -> Department:
    ensure_role(actor, ADMIN)
    code, name = _validate_department(data, None)
    dept = Department(code=code, name=name, parent_id=data.parent_id, head_id=data.head_id, sort_order=data.sort_order)
    db.session.add(dept)
    db.session.flush()
    _grant_head_role(actor, dept)
    record("department.create", dept, actor=actor, after=snapshot(dept, DEPT_FIELDS))
    return dept


def update_department(actor: User, dept: Department, data: DepartmentData) -> Department:
    ensure_role(actor, ADMIN)
    before = snapshot(dept, DEPT_FIELDS)
    code, name = _validate_department(data, dept)
    dept.code, dept.name, dept.parent_id, dept.head_id, dept.sort_order = (
        code, name, data.parent_id, data.head_id, data.sort_order,
    )
    db.session.flush()
    db.session.refresh(dept)
    _grant_head_role(actor, dept)
    after = snapshot(dept, DEPT_FIELDS)
    if after != before:
        record("department.update", dept, actor=actor, before=before, after=after)
    return dept


def set_department_active(actor: User, dept: Department, active: bool) -> Department:
    ensure_role(actor, ADMIN)
    if dept.active == active:
        return dept
    if not active:
        members = db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.department_id == dept.id, User.active.is_(True))
        )
        children = db.session.scalar(
            sa.select(sa.func.count()).select_from(Department).where(
                Department.parent_id == dept.id, Department.active.is_(True)
            )
        )
        if members or children:
            raise ServiceError(
                (None, _("Move the %(users)d active users and %(depts)d active sub-departments out first.",
                         users=members, depts=children))
            )
    dept.active = active
    db.session.flush()
    record("department.activate" if active else "department.deactivate", dept, actor=actor)
    return dept


# -- positions ------------------------------------------------------------------------------------
def _clean_position_name(dept: Department, name: str, existing: Position | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError(("name", _("A position name has 1–100 characters.")))
    clash = db.session.scalar(sa.select(Position).where(Position.department_id == dept.id, Position.name == name))
    if clash is not None and clash is not existing:
        raise ServiceError(("name", _("This department already has the position “%(name)s”.", name=name)))
    return name


def create_position(actor: User, dept: Department, name: str) -> Position:
    ensure_role(actor, ADMIN)
    position = Position(department_id=dept.id, name=_clean_position_name(dept, name, None))
    db.session.add(position)
    db.session.flush()
    record("position.create", position, actor=actor, after={"name": position.name, "department_id": dept.id})
    return position


def rename_position(actor: User, position: Position, name: str) -> Position:
    ensure_role(actor, ADMIN)
    before = position.name
    position.name = _clean_position_name(position.department, name, position)
    db.session.flush()
    if before != position.name:
        record("position.update", position, actor=actor, before={"name": before}, after={"name": position.name})
    return position


def set_position_active(actor: User, position: Position, active: bool) -> Position:
    ensure_role(actor, ADMIN)
    if position.active != active:
        position.active = active
        db.session.flush()
        record("position.activate" if active else "position.deactivate", position, actor=actor)
    return position


def get_position(position_id: int) -> Position:
    position = db.session.get(Position, position_id)
    if position is None:
        raise NotFound()
    return position
