"""The one way to write the audit trail, and the chain verifier.

Every state change in every domain calls :func:`record` in the same transaction as the change.
The rows form a hash chain: ``hash = sha256(prev_hash + canonical content)``. Writers are serialised
(a PostgreSQL advisory lock held to the end of the transaction; SQLite serialises writers anyway),
so the chain never forks.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from flask import has_request_context

from portal.audit.models import AuditEvent
from portal.core.i18n import portal_tz
from portal.core.net import client_ip
from portal.core.parsing import parse_date
from portal.core.types import utcnow
from portal.extensions import db

GENESIS = "0" * 64
_LOCK_KEY = 0x51A0_0D17  # any constant; identifies the audit chain's advisory lock


def _canonical(event: AuditEvent) -> str:
    created = event.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "id": event.id,
        "created_at": created,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name or "",
        "action": event.action,
        "object_type": event.object_type or "",
        "object_id": event.object_id or "",
        "summary": event.summary or {},
        "ip": event.ip or "",
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256((prev_hash + _canonical(event)).encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    """Summaries are stored as JSON: keep them to plain types so the hash survives a round trip."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def record(
    action: str,
    obj: Any = None,
    *,
    actor: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    extra: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append an audit event for ``action`` on ``obj`` by ``actor`` (default: the logged-in user).

    ``before``/``after`` are small dicts of the changed fields; only keys whose values differ are kept.
    """
    if actor is None and has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            actor = current_user
    if ip is None and has_request_context():
        ip = client_ip()
    if obj is not None:
        object_type = object_type or getattr(obj, "__tablename__", type(obj).__name__)
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    summary: dict[str, Any] = {}
    if before is not None or after is not None:
        before, after = before or {}, after or {}
        keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
        if before:
            summary["before"] = {k: before.get(k) for k in keys}
        if after:
            summary["after"] = {k: after.get(k) for k in keys}
    if extra:
        summary.update(extra)

    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(
        id=(last.id + 1) if last else 1,
        created_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "display_name", None) or getattr(actor, "username", None) or "")[:150],
        action=action,
        object_type=(object_type or "")[:64],
        object_id="" if object_id is None else str(object_id)[:64],
        summary=_jsonable(summary),
        ip=(ip or "")[:64],
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = compute_hash(event, event.prev_hash)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the whole trail in id order and report the first row whose link or content does not verify."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows: Iterable[AuditEvent] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked)
        for event in rows:
            if event.id != expected_id:
                return ChainReport(checked, expected_id, f"row {expected_id} is missing")
            if event.prev_hash != prev_hash:
                return ChainReport(checked, event.id, "prev_hash does not match the previous row")
            if compute_hash(event, prev_hash) != event.hash:
                return ChainReport(checked, event.id, "content does not match its hash")
            prev_hash, expected_id, last_id = event.hash, event.id + 1, event.id
            checked += 1
        db.session.expunge_all()


def _filtered(filters: dict[str, str]):
    """The audit query for the viewer's filters (action prefix, actor name, object, start and end day)."""
    stmt = sa.select(AuditEvent)
    if filters.get("action"):
        stmt = stmt.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    if filters.get("actor"):
        stmt = stmt.where(AuditEvent.actor_name.contains(filters["actor"], autoescape=True))
    if filters.get("object_type"):
        stmt = stmt.where(AuditEvent.object_type == filters["object_type"])
    if filters.get("object_id"):
        stmt = stmt.where(AuditEvent.object_id == filters["object_id"])
    tz = portal_tz()
    start, end = parse_date(filters.get("start")), parse_date(filters.get("end"))
    if start:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(start, time.min, tz))
    if end:
        stmt = stmt.where(AuditEvent.created_at < datetime.combine(end + timedelta(days=1), time.min, tz))
    return stmt


def search_events(filters: dict[str, str], *, before: int | None = None, limit: int = 50) -> list[AuditEvent]:
    """Matching events, newest first; ``before`` (an event id) is the keyset for the next page."""
    stmt = _filtered(filters)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))


def export_events(filters: dict[str, str], limit: int) -> Iterable[AuditEvent]:
    """Matching events, oldest first, streamed in batches (for the .xlsx export)."""
    return db.session.scalars(_filtered(filters).order_by(AuditEvent.id).limit(limit)).yield_per(1000)


def recorded_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def events_for(object_type: str, object_id: Any, limit: int = 50) -> list[AuditEvent]:
    """The newest ``limit`` events about one object, newest first (a record's history)."""
    return list(db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id.desc()).limit(limit)
    ))


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of ``obj`` as a plain dict, for before/after summaries."""
    out = {}
    for name in fields:
        value = getattr(obj, name, None)
        if isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out
