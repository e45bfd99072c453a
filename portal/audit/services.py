"""The one way to write the audit trail, the chain's key and daily anchors, and the verifier.

Every state change in every domain calls :func:`record` in the same transaction as the change.
The rows form a keyed chain: ``hash = HMAC-SHA256(key, prev_hash + canonical content)``, the key living
outside the database (PORTAL_AUDIT_KEY, or instance/audit.key), so someone who can edit the database cannot
recompute the chain. Writers are serialised (a PostgreSQL advisory lock held to the end of the transaction;
SQLite serialises writers anyway), so the chain never forks.

A chain cannot see its own truncation, so once a day :func:`write_anchor` appends the head (day, last event
id, its hash, and an HMAC of the line) to instance/audit-anchors.log, and the administrators' digest shows
the latest anchor. :func:`verify_chain` checks the rows and every anchor.

Rows written before the key existed keep ``chain = CHAIN_SHA256`` (see portal/audit/models.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from flask import current_app, has_request_context

from portal.audit.models import CHAIN_HMAC, CHAIN_SHA256, AuditEvent
from portal.core.i18n import portal_tz
from portal.core.net import client_ip
from portal.core.parsing import parse_date
from portal.core.types import utcnow
from portal.extensions import db

GENESIS = "0" * 64
_LOCK_KEY = 0x51A0_0D17  # any constant; identifies the audit chain's advisory lock


KEY_FILE = "audit.key"
ANCHOR_FILE = "audit-anchors.log"
MIN_KEY_LENGTH = 32


class AuditKeyMissing(RuntimeError):
    """No audit key in the environment or under instance/ (production never creates one)."""


def key_path() -> str:
    return os.path.join(current_app.instance_path, KEY_FILE)


def anchor_path() -> str:
    """PORTAL_AUDIT_ANCHOR_FILE, or instance/audit-anchors.log. With workers on several hosts, whichever runs
    the daily job writes it: point every host at one shared file (or run ``portal audit-anchor`` on one host)."""
    return current_app.config.get("PORTAL_AUDIT_ANCHOR_FILE") or os.path.join(current_app.instance_path, ANCHOR_FILE)


def audit_key() -> bytes:
    """The chain's HMAC key: PORTAL_AUDIT_KEY, else instance/audit.key. Development and test create the file
    (0600) on first use; production refuses (config.ProductionConfig.validate already did at start-up)."""
    configured = current_app.config.get("PORTAL_AUDIT_KEY") or ""
    if configured:
        return configured.encode("utf-8")
    path = key_path()
    try:
        with open(path, "rb") as handle:
            key = handle.read().strip()
    except FileNotFoundError:
        if current_app.config.get("ENV_NAME") == "production":
            raise AuditKeyMissing(f"no audit key: set PORTAL_AUDIT_KEY or create {path}") from None
        key = _create_key_file(path)
    if len(key) < MIN_KEY_LENGTH:
        raise AuditKeyMissing(f"the audit key in {path} is shorter than {MIN_KEY_LENGTH} characters")
    return key


def _create_key_file(path: str) -> bytes:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        with open(path, "rb") as handle:
            return handle.read().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


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


def plain_hash(event: AuditEvent, prev_hash: str) -> str:
    """The unkeyed SHA-256 of the legacy chain (rows with ``chain = CHAIN_SHA256``)."""
    return hashlib.sha256((prev_hash + _canonical(event)).encode("utf-8")).hexdigest()


def keyed_hash(event: AuditEvent, prev_hash: str, key: bytes | None = None) -> str:
    message = (prev_hash + _canonical(event)).encode("utf-8")
    return hmac.new(key or audit_key(), message, hashlib.sha256).hexdigest()


def compute_hash(event: AuditEvent, prev_hash: str, key: bytes | None = None) -> str:
    """The hash the row should carry, by its chain version."""
    if event.chain == CHAIN_SHA256:
        return plain_hash(event, prev_hash)
    return keyed_hash(event, prev_hash, key)


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
    return record_many([dict(action=action, obj=obj, actor=actor, object_type=object_type, object_id=object_id,
                             before=before, after=after, extra=extra, ip=ip)])[0]


def _unchained(action: str, obj: Any = None, *, actor: Any = None, object_type: str | None = None,
               object_id: Any = None, before: dict | None = None, after: dict | None = None,
               extra: dict | None = None, ip: str | None = None) -> AuditEvent:
    """The event ``record`` appends, without its place in the chain (id, hashes)."""
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
    return AuditEvent(
        created_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "display_name", None) or getattr(actor, "username", None) or "")[:150],
        action=action,
        object_type=(object_type or "")[:64],
        object_id="" if object_id is None else str(object_id)[:64],
        summary=_jsonable(summary),
        ip=(ip or "")[:64],
        chain=CHAIN_HMAC,
    )


def record_many(entries: Iterable[dict]) -> list[AuditEvent]:
    """Append several audit events in one go, in order: each entry holds ``record``'s arguments as keywords
    (``action`` required). One lock, one read of the chain's end and one INSERT for all of them (a job that
    changes many objects, e.g. the SLA scan, writes one event per object at a fixed cost)."""
    events = [_unchained(**entry) for entry in entries]
    if not events:
        return []
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    last_id, last_hash = (last.id, last.hash) if last else (0, GENESIS)
    for event in events:
        last_id += 1
        event.id, event.prev_hash = last_id, last_hash
        event.hash = last_hash = compute_hash(event, event.prev_hash)
    session.add_all(events)
    session.flush()
    return events


# -- anchors ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    day: date
    event_id: int
    hash: str
    line_no: int = 0


def _anchor_mac(day: date, event_id: int, event_hash: str, key: bytes) -> str:
    return hmac.new(key, f"anchor|{day.isoformat()}|{event_id}|{event_hash}".encode(), hashlib.sha256).hexdigest()


class AnchorFileTampered(ValueError):
    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no, self.reason = line_no, reason


def read_anchors(key: bytes | None = None) -> list[Anchor]:
    """Every anchor in the file, oldest first; raises AnchorFileTampered on a line that does not verify."""
    key = key or audit_key()
    try:
        with open(anchor_path(), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    anchors: list[Anchor] = []
    for number, line in enumerate(lines, 1):
        parts = line.split("\t")
        try:
            day_text, id_text, event_hash, mac = parts
            day, event_id = date.fromisoformat(day_text), int(id_text)
        except ValueError:
            raise AnchorFileTampered(number, "not an anchor line") from None
        if not hmac.compare_digest(mac, _anchor_mac(day, event_id, event_hash, key)):
            raise AnchorFileTampered(number, "its HMAC does not match")
        if anchors and (event_id < anchors[-1].event_id or day <= anchors[-1].day):
            raise AnchorFileTampered(number, "out of order (the file is append-only)")
        anchors.append(Anchor(day, event_id, event_hash, number))
    return anchors


def latest_anchor() -> Anchor | None:
    """The newest anchor, or None when there is none yet or the file does not verify (audit-verify says why)."""
    return anchor_state()[0]


def anchor_state() -> tuple[Anchor | None, str]:
    """(the newest anchor or None, "" or why the anchor file does not verify)."""
    try:
        anchors = read_anchors()
    except AnchorFileTampered as exc:
        return None, str(exc)
    return (anchors[-1] if anchors else None), ""


def write_anchor(day: date | None = None) -> Anchor:
    """Append today's anchor: the newest event's id and hash (idempotent: once per day).

    An exclusive lock on the file covers the check and the append, so two runs on the same day (a retried
    job, the command by hand) never write two lines for one day, which verification would take for tampering.
    """
    import fcntl

    day = day or datetime.now(portal_tz()).date()
    key = audit_key()
    os.makedirs(os.path.dirname(anchor_path()) or ".", exist_ok=True)
    fd = os.open(anchor_path(), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        anchors = read_anchors(key)
        if anchors and anchors[-1].day >= day:
            return anchors[-1]
        last = db.session.execute(
            sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
        event_id, event_hash = (last.id, last.hash) if last else (0, GENESIS)
        handle.write(f"{day.isoformat()}\t{event_id}\t{event_hash}\t{_anchor_mac(day, event_id, event_hash, key)}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Anchor(day, event_id, event_hash, len(anchors) + 1)


# -- verification ---------------------------------------------------------------------------------------
#: The checks audit-verify runs, as it names them when one fails.
CHECK_MISSING = "missing rows"
CHECK_LINK = "broken link"
CHECK_HASH = "hash mismatch"
CHECK_HMAC = "HMAC mismatch"
CHECK_TRUNCATION = "truncation"
CHECK_ANCHOR_FILE = "anchor file tampered"
CHECK_RECORDS = "records differ from the trail"


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""
    check: str = ""
    anchors: int = 0
    anchor_line: int | None = None
    #: {check key: records verified} for the registered chain checks (e-signatures)
    records: dict[str, int] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return not self.check


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the whole trail in id order, then the anchors; report the first check that fails.

    Rows: ids without gaps, each ``prev_hash`` the previous row's hash, each hash (HMAC for keyed rows,
    SHA-256 for legacy rows, which may only precede the keyed ones). Anchors: every line's HMAC, and every
    anchored event still there with the anchored hash (so deleting the newest rows is found). Then the
    registered chain checks: records the trail vouches for, such as every e-signature matching the event
    written when it was made.
    """
    key = audit_key()
    try:
        anchors = read_anchors(key)
    except AnchorFileTampered as exc:
        return ChainReport(0, None, f"anchor file {exc}", CHECK_ANCHOR_FILE, anchor_line=exc.line_no)
    anchored = {a.event_id: a for a in anchors if a.event_id}
    prev_hash, expected_id, checked, keyed_seen = GENESIS, 1, 0, False
    last_id = 0
    while True:
        rows: Iterable[AuditEvent] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.id != expected_id:
                return ChainReport(checked, expected_id, f"row {expected_id} is missing", CHECK_MISSING)
            if event.prev_hash != prev_hash:
                return ChainReport(checked, event.id, "prev_hash does not match the previous row", CHECK_LINK)
            if event.chain == CHAIN_SHA256:
                if keyed_seen:
                    return ChainReport(checked, event.id, "an unkeyed row after the keyed chain began", CHECK_HMAC)
                if plain_hash(event, prev_hash) != event.hash:
                    return ChainReport(checked, event.id, "content does not match its hash", CHECK_HASH)
            else:
                keyed_seen = True
                if not hmac.compare_digest(keyed_hash(event, prev_hash, key), event.hash):
                    return ChainReport(checked, event.id, "content does not match its hash (HMAC)", CHECK_HMAC)
            anchor = anchored.get(event.id)
            if anchor and anchor.hash != event.hash:
                return ChainReport(checked, event.id, f"the hash anchored on {anchor.day.isoformat()} differs",
                                   CHECK_TRUNCATION, len(anchors), anchor.line_no)
            prev_hash, expected_id, last_id = event.hash, event.id + 1, event.id
            checked += 1
        db.session.expunge_all()
    newest = max(anchored.values(), key=lambda a: a.event_id, default=None)
    if newest and newest.event_id > last_id:
        return ChainReport(checked, newest.event_id,
                           f"rows {last_id + 1}–{newest.event_id} are gone (anchored on {newest.day.isoformat()})",
                           CHECK_TRUNCATION, len(anchors), newest.line_no)
    report = ChainReport(checked, anchors=len(anchors))
    from portal.audit.registry import chain_checks

    for chain_check in chain_checks:
        count, problem = chain_check.fn()
        report.records[chain_check.key] = count
        if problem:
            report.check, report.reason = CHECK_RECORDS, f"{chain_check.key}: {problem}"
            return report
    return report


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


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every action in the trail, for the filter: grouped by domain, in label order."""
    from portal.audit.registry import action_label

    return sorted(((code, action_label(code)) for code in recorded_actions()),
                  key=lambda pair: (pair[0].split(".")[0], pair[1]))


def object_type_choices() -> list[tuple[str, str]]:
    """(key, label) of every object type in the trail, for the filter."""
    from portal.audit.registry import object_type_label

    keys = db.session.scalars(sa.select(AuditEvent.object_type).distinct().where(AuditEvent.object_type != ""))
    return sorted(((key, object_type_label(key)) for key in keys), key=lambda pair: pair[1])


def events_by_object(action: str, object_type: str, object_ids: Iterable[Any]) -> dict[str, AuditEvent]:
    """{object id: the event} of ``action`` on each of these objects (the first one, if several)."""
    ids = [str(i) for i in object_ids]
    if not ids:
        return {}
    found: dict[str, AuditEvent] = {}
    for event in db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_type == object_type, AuditEvent.object_id.in_(ids))
            .order_by(AuditEvent.id)):
        found.setdefault(event.object_id, event)
    return found


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
