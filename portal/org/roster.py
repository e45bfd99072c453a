"""Roster import from the HR export (.xlsx or .csv): parse, validate every row, preview, apply.

Nothing is written unless the whole file validates. Re-importing the same file changes nothing.
Users missing from the file are left alone (HR exports are often partial); the 状态 column can
deactivate or reactivate a user explicitly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import ServiceError
from portal.core import uploads
from portal.core.uploads import (
    XLS_MAGIC, XLSX_MAGIC, PendingImport, keep_pending, mark_applied, read_xlsx_rows,
)
from portal.extensions import db
from portal.org import services
from portal.org.models import Department, Position, User
from portal.core.roles import ADMIN, EMPLOYEE, ROLE_LABELS, ROLES
from portal.web.access import ensure_role

# Column name → field. Chinese HR headers first; English ones for exports from other systems.
HEADER_ALIASES = {
    "username": ("用户名", "账号", "工号", "username", "login"),
    "display_name": ("姓名", "名字", "display_name", "name"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "email", "e-mail"),
    "department": ("部门", "所属部门", "department"),
    "position": ("岗位", "职位", "position"),
    "roles": ("角色", "roles", "role"),
    "status": ("状态", "在职状态", "status"),
}
REQUIRED = ("username", "display_name", "email", "department")
ACTIVE_WORDS = {"在职", "启用", "active", "yes", "1", "是"}
INACTIVE_WORDS = {"离职", "停用", "inactive", "no", "0", "否"}
MAX_ROWS = 20000


def field_label(name: str) -> str:
    return {
        "username": _("Username"),
        "display_name": _("Full name"),
        "email": _("Email"),
        "department": _("Department"),
        "position": _("Position"),
        "roles": _("Roles"),
        "status": _("Status"),
        "active": _("Status"),
    }.get(name, name)


def change_value_text(field: str, value) -> str:
    """A value of the preview's 字段：旧值 → 新值, in words: role labels, 在职/停用, — for nothing."""
    if field == "roles":
        return "、".join(str(ROLE_LABELS.get(r, r)) for r in (value or ())) or "—"
    if field == "active":
        return _("Active") if value else _("Deactivated")
    return str(value) if value not in (None, "") else "—"


@dataclass
class RosterRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


@dataclass
class RosterPlan:
    rows: list[RosterRow]
    file_errors: list[str] = field(default_factory=list)
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    unchanged: int = 0
    new_positions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def row_errors(self) -> list[RosterRow]:
        return [r for r in self.rows if r.errors]

    @property
    def valid(self) -> bool:
        return not self.file_errors and not self.row_errors

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.updates)


# -- reading ------------------------------------------------------------------------------------
def _read_table(filename: str, content: bytes) -> list[list[str]]:
    """Rows of cell strings. The format is decided by the content, not the file name."""
    if not content:
        raise ServiceError((None, _("The file is empty.")))
    if content[:4] == XLSX_MAGIC or content[:8] == XLS_MAGIC or filename.lower().endswith(".xlsx"):
        return read_xlsx_rows(content, max_rows=MAX_ROWS)
    return uploads.read_csv_rows(content, max_rows=MAX_ROWS, require_delimiter=True)


def parse_roster(filename: str, content: bytes) -> tuple[list[RosterRow], list[str]]:
    """Map the header row onto fields; return the data rows and file-level errors."""
    table = _read_table(filename, content)
    header_index = next((i for i, row in enumerate(table) if any(row)), None)
    if header_index is None:
        raise ServiceError((None, _("The file is empty.")))
    header = [h.strip().lower() for h in table[header_index]]
    columns: dict[str, int] = {}
    for name, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias.lower() in header:
                columns[name] = header.index(alias.lower())
                break
    missing = [n for n in REQUIRED if n not in columns]
    if missing:
        return [], [
            _("Missing column: %(columns)s. The first row must name the columns, e.g. 用户名, 姓名, 邮箱, 部门, 岗位, 角色.",
              columns="、".join(field_label(m) for m in missing))
        ]
    rows = []
    for offset, raw in enumerate(table[header_index + 1:], start=header_index + 2):
        if not any(raw):
            continue
        values = {name: (raw[i] if i < len(raw) else "").strip() for name, i in columns.items()}
        rows.append(RosterRow(line=offset, values=values))
    if not rows:
        return [], [_("The file has a header row but no data rows.")]
    return rows, []


# -- planning -----------------------------------------------------------------------------------
def _role_lookup() -> dict[str, str]:
    lookup = {code: code for code in ROLES}
    for code, label in ROLE_LABELS.items():
        lookup[str(label).lower()] = code
    # Both languages, whatever the request's locale is.
    lookup.update({"系统管理员": ADMIN, "管理员": ADMIN, "质量经理": "quality_manager",
                   "部门负责人": "dept_head", "员工": EMPLOYEE})
    return lookup


def plan_roster(rows: list[RosterRow], file_errors: list[str], actor: User | None = None) -> RosterPlan:
    plan = RosterPlan(rows=rows, file_errors=list(file_errors))
    if plan.file_errors:
        return plan
    departments = db.session.scalars(sa.select(Department)).all()
    dept_by_key = {}
    for d in departments:
        dept_by_key[d.name.lower()] = d
        dept_by_key[d.code.lower()] = d
    positions = {(p.department_id, p.name): p for p in db.session.scalars(sa.select(Position))}
    usernames = [services.normalize_username(r.values.get("username", "")) for r in rows]
    users = {
        u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(set(usernames))))
    } if usernames else {}
    seen: dict[str, int] = {}
    roles_lookup = _role_lookup()
    new_positions: set[tuple[str, str]] = set()
    admins_lost: set[str] = set()

    for row, username in zip(rows, usernames):
        v = row.values
        for name in REQUIRED:
            if not v.get(name):
                row.errors.append(_("%(column)s is empty.", column=field_label(name)))
        if v.get("username"):
            try:
                username = services.clean_username(v["username"])
            except ServiceError as exc:
                row.errors += [m for _f, m in exc.errors]
            if username in seen:
                row.errors.append(_("Duplicate username “%(name)s” (also on row %(line)d).", name=username, line=seen[username]))
            else:
                seen[username] = row.line
        email = ""
        if v.get("email"):
            try:
                email = services.clean_email(v["email"])
            except ServiceError as exc:
                row.errors += [m for _f, m in exc.errors]
        dept = None
        if v.get("department"):
            dept = dept_by_key.get(v["department"].lower())
            if dept is None:
                row.errors.append(_("Unknown department “%(name)s”.", name=v["department"][:50]))
            elif not dept.active:
                row.errors.append(_("The department “%(name)s” is deactivated.", name=dept.name))
        if len(v.get("display_name", "")) > 100:
            row.errors.append(_("The name may have at most 100 characters."))
        roles = None
        if v.get("roles"):
            parts = [p.strip().lower() for p in re.split(r"[,，、;；/]", v["roles"]) if p.strip()]
            unknown = [p for p in parts if p not in roles_lookup]
            if unknown:
                row.errors.append(_("Unknown role: %(role)s", role="、".join(unknown)))
            roles = {roles_lookup[p] for p in parts if p in roles_lookup}
        active = None
        if v.get("status"):
            word = v["status"].strip().lower()
            if word in ACTIVE_WORDS:
                active = True
            elif word in INACTIVE_WORDS:
                active = False
            else:
                row.errors.append(_("Unknown status “%(value)s”: use 在职 or 离职.", value=v["status"][:20]))
        if row.errors:
            continue

        existing = users.get(username)
        position_name = v.get("position", "")[:100]
        if "position" not in v and existing is not None and existing.position is not None \
                and existing.department_id == dept.id:
            # No 岗位 column at all: keep the position, as a missing 角色 or 状态 column keeps those.
            position_name = existing.position.name
        if position_name and (dept.id, position_name) not in positions:
            new_positions.add((dept.name, position_name))
        wanted = {
            "display_name": v["display_name"],
            "email": email,
            "department": dept.name,
            "position": position_name,
        }
        if existing is None:
            wanted_roles = roles or {EMPLOYEE}
            plan.creates.append({"line": row.line, "username": username, **wanted,
                                 "roles": sorted(wanted_roles), "active": active is not False,
                                 "department_id": dept.id})
            continue
        current = {
            "display_name": existing.display_name,
            "email": existing.email,
            "department": existing.department.name if existing.department else "",
            "position": existing.position.name if existing.position else "",
        }
        changes = {k: (current[k], wanted[k]) for k in wanted if current[k] != wanted[k]}
        if roles is not None and roles != existing.roles:
            changes["roles"] = (sorted(existing.roles), sorted(roles))
            if ADMIN in existing.roles and ADMIN not in roles:
                admins_lost.add(username)
        if active is not None and active != existing.active:
            changes["active"] = (existing.active, active)
            if not active and ADMIN in existing.roles:
                admins_lost.add(username)
            if not active and actor is not None and existing.id == actor.id:
                row.errors.append(_("You cannot deactivate your own account."))
                continue
        if changes:
            plan.updates.append({"line": row.line, "username": username, "user_id": existing.id,
                                 "display_name": wanted["display_name"], "changes": changes,
                                 "department_id": dept.id, "position": position_name})
        else:
            plan.unchanged += 1

    if admins_lost:
        remaining = db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(
                User.active.is_(True), User.role_rows.any(role=ADMIN), User.username.not_in(admins_lost)
            )
        )
        if not remaining:
            plan.file_errors.append(_("After this import no active administrator would be left."))
    plan.new_positions = sorted(new_positions)
    return plan


# -- pending imports ----------------------------------------------------------------------------
def upload_roster(actor: User, filename: str, content: bytes) -> tuple[PendingImport | None, RosterPlan]:
    """Validate the file and keep it as a pending import when it is valid and changes something."""
    ensure_role(actor, ADMIN)
    rows, file_errors = parse_roster(filename, content)
    plan = plan_roster(rows, file_errors, actor)
    if not plan.valid or not plan.has_changes:
        return None, plan
    pending = keep_pending(actor, "roster", filename or "roster", content)
    record("roster_import.upload", pending, actor=actor,
           extra={"filename": pending.filename, "sha256": pending.sha256,
                  "creates": len(plan.creates), "updates": len(plan.updates)})
    return pending, plan


def get_pending(actor: User, import_id: int, *, for_update: bool = False) -> PendingImport:
    """The actor's own pending roster import (administrators only; 404 for anyone else's)."""
    ensure_role(actor, ADMIN)
    return uploads.get_pending(actor, "roster", import_id, for_update=for_update)


def apply_roster(actor: User, import_id: int) -> tuple[PendingImport, RosterPlan | None]:
    """Apply a pending import. Re-validated against the database as it is now; all or nothing.

    A second call (double click, retried request) finds the import applied and changes nothing.
    """
    # The file is parsed before the import is locked for writing: no write lock is held while parsing.
    pending = get_pending(actor, import_id)
    if pending.status != "pending":
        return pending, None
    rows, file_errors = parse_roster(pending.filename, pending.content)
    pending = get_pending(actor, import_id, for_update=True)
    if pending.status != "pending":
        return pending, None
    plan = plan_roster(rows, file_errors, actor)
    if not plan.valid:
        raise ServiceError(*[(None, m) for m in plan.file_errors],
                           *[(None, _("Row %(line)d: %(errors)s", line=r.line, errors=" ".join(r.errors)))
                             for r in plan.row_errors])

    def position_id(dept_id: int, name: str) -> int | None:
        if not name:
            return None
        position = db.session.scalar(sa.select(Position).where(Position.department_id == dept_id, Position.name == name))
        if position is None:
            position = services.create_position(actor, db.session.get(Department, dept_id), name)
        return position.id

    created = updated = 0
    for item in plan.creates:
        user, _temp = services.create_user(
            actor,
            services.UserData(item["username"], item["display_name"], item["email"], item["department_id"],
                              position_id(item["department_id"], item["position"]), tuple(item["roles"])),
        )
        # Imported accounts get no usable password: an administrator hands out one with “reset password”.
        user.password_hash = ""
        if not item["active"]:
            services.set_user_active(actor, user, False)
        created += 1
    for item in plan.updates:
        user = db.session.get(User, item["user_id"])
        changes = item["changes"]
        roles = tuple(changes["roles"][1]) if "roles" in changes else tuple(user.roles)
        services.update_user(
            actor, user,
            services.UserData(user.username, item["display_name"],
                              changes.get("email", (None, user.email))[1],
                              item["department_id"], position_id(item["department_id"], item["position"]), roles),
        )
        if "active" in changes:
            services.set_user_active(actor, user, changes["active"][1])
        updated += 1
    mark_applied(pending, {"created": created, "updated": updated, "unchanged": plan.unchanged})
    record("roster_import.apply", pending, actor=actor, extra=pending.result)
    return pending, plan
