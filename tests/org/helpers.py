"""Helpers shared by the organisation tests: audit rows, counts, page structure, flash messages."""
from __future__ import annotations

import html
import re

import sqlalchemy as sa

from portal.core.uploads import PendingImport
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.org.models import Department, Position, User

FLASH_RE = re.compile(r'<div class="alert alert-(\w+) alert-dismissible[^"]*" role="alert">\s*(.*?)\s*<button', re.S)
USER_ROW_RE = re.compile(r'<tr id="user-(\d+)"')
TAG_RE = re.compile(r"<[^>]+>")
#: services.temporary_password(): six letters/digits from an unambiguous alphabet, then four digits.
TEMP_PASSWORD_RE = re.compile(r"(?<![A-Za-z0-9])([abcdefghjkmnpqrstuvwxyz23456789]{6}[2-9]{4})(?![A-Za-z0-9])")


def text(response) -> str:
    return response.get_data(as_text=True)


def plain_text(markup: str) -> str:
    return html.unescape(TAG_RE.sub(" ", markup))


def is_full_page(response) -> bool:
    return "<html" in text(response)


def assert_full_page(response, status: int = 200) -> str:
    body = text(response)
    assert response.status_code == status, body[:800]
    assert "<html" in body
    assert '<html lang="zh-CN">' in body
    assert_varies_on_hx(response)
    return body


def assert_partial(response, status: int = 200) -> str:
    body = text(response)
    assert response.status_code == status, body[:800]
    assert "<html" not in body and "<body" not in body and "navbar" not in body
    assert_varies_on_hx(response)
    return body


def assert_varies_on_hx(response) -> None:
    vary = [v.strip().lower() for v in (response.headers.get("Vary") or "").split(",")]
    assert "hx-request" in vary, response.headers.get("Vary")


def flashes(markup: str) -> list[tuple[str, str]]:
    """(category, text) of the flash messages on a full page."""
    return [(cat, plain_text(msg).strip()) for cat, msg in FLASH_RE.findall(markup)]


def user_row_ids(markup: str) -> list[int]:
    return [int(i) for i in USER_ROW_RE.findall(markup)]


def audit(action: str | None = None, obj=None, object_type: str | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if obj is not None:
        stmt = stmt.where(AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == str(obj.id))
    if object_type is not None:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(stmt))


def audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


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


def field_has_error(markup: str, field: str) -> bool:
    """The form field ``field`` is rendered as invalid (an input/select, or a checkbox list)."""
    return bool(
        re.search(rf'<(?:input|select|textarea)\b[^>]*class="[^"]*\bis-invalid\b[^"]*"[^>]*\bid="{field}"', markup)
        or re.search(rf'class="checkbox-list is-invalid"><ul[^>]*\bid="{field}"', markup)
    )
