"""Raising notifications, reading them, preferences and settings.

``notify()`` is what other domains call (through signals or directly from their services). It writes the
in-app notification and one outbox row per external channel in the caller's transaction; delivery jobs
are enqueued only after that transaction commits.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import NotFound, ServiceError
from portal.core.types import utcnow
from portal.extensions import db, rq
from portal.notify.models import (
    INSTANT, MODES, Delivery, Notification, NotificationPreference, NotifySettings, Webhook,
)
from portal.notify.registry import get_kind, kinds
from portal.org.models import User
from portal.org.services import clean_email
from portal.core.roles import ADMIN
from portal.web.access import ensure_role
from portal.core.i18n import portal_tz


# -- settings -------------------------------------------------------------------------------------
def _fernet() -> Fernet:
    key = hashlib.sha256(("portal-smtp:" + current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt_secret(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        current_app.logger.error("the stored SMTP password cannot be decrypted (SECRET_KEY changed?)")
        return ""


def get_settings() -> NotifySettings:
    """The settings row, or an unsaved one filled from the environment (config)."""
    row = db.session.scalar(sa.select(NotifySettings).order_by(NotifySettings.id).limit(1))
    if row is not None:
        return row
    cfg = current_app.config
    return NotifySettings(
        smtp_host=cfg["SMTP_HOST"], smtp_port=cfg["SMTP_PORT"], smtp_security=cfg["SMTP_SECURITY"],
        smtp_user=cfg["SMTP_USER"], smtp_password_encrypted=encrypt_secret(cfg["SMTP_PASSWORD"]),
        smtp_from=cfg["SMTP_FROM"], quiet_start=cfg["PORTAL_QUIET_HOURS"].split("-")[0],
        quiet_end=cfg["PORTAL_QUIET_HOURS"].split("-")[1], digest_time=cfg["PORTAL_DIGEST_TIME"],
    )


def _parse_hhmm(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ServiceError((field, _("Enter a time as HH:MM, e.g. 08:30.")))


def save_settings(actor: User, *, smtp_host: str, smtp_port: int | None, smtp_security: str, smtp_user: str,
                  smtp_password: str | None, smtp_from: str, quiet_start: str, quiet_end: str,
                  digest_time: str) -> NotifySettings:
    """Validate and save; ``smtp_password`` None keeps the stored one."""
    import re
    from email.utils import parseaddr

    ensure_role(actor, ADMIN)
    errors: list[tuple[str | None, str]] = []
    host = (smtp_host or "").strip()
    if host and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\]", host):
        errors.append(("smtp_host", _("Enter a host name or IP address, without a scheme or port.")))
    if smtp_port is None or not 1 <= smtp_port <= 65535:
        errors.append(("smtp_port", _("The port must be a number from 1 to 65535.")))
    if smtp_security not in ("none", "starttls", "ssl"):
        errors.append(("smtp_security", _("Choose none, STARTTLS or SSL.")))
    sender = (smtp_from or "").strip()
    name, address = parseaddr(sender)
    try:
        clean_email(address, "smtp_from")
    except ServiceError:
        errors.append(("smtp_from", _("The sender must be an email address, e.g. 服务质量门户 <quality@example.cn>.")))
    times = {}
    for field, value in (("quiet_start", quiet_start), ("quiet_end", quiet_end), ("digest_time", digest_time)):
        try:
            times[field] = _parse_hhmm(value, field)
        except ServiceError as exc:
            errors += exc.errors
    if errors:
        raise ServiceError(*errors)
    row = db.session.scalar(sa.select(NotifySettings).limit(1))
    if row is None:
        row = NotifySettings()
        db.session.add(row)
    before = {"smtp_host": row.smtp_host, "smtp_port": row.smtp_port, "smtp_security": row.smtp_security,
              "smtp_user": row.smtp_user, "smtp_from": row.smtp_from, "quiet_start": row.quiet_start,
              "quiet_end": row.quiet_end, "digest_time": row.digest_time}
    row.smtp_host, row.smtp_port, row.smtp_security = host, smtp_port, smtp_security
    row.smtp_user, row.smtp_from = (smtp_user or "").strip(), sender
    if smtp_password is not None:
        row.smtp_password_encrypted = encrypt_secret(smtp_password)
    row.quiet_start = times["quiet_start"].strftime("%H:%M")
    row.quiet_end = times["quiet_end"].strftime("%H:%M")
    row.digest_time = times["digest_time"].strftime("%H:%M")
    row.updated_at = utcnow()
    db.session.flush()
    after = {k: getattr(row, k) for k in before}
    record("notify.settings_update", row, actor=actor, before=before, after=after,
           extra={"password_changed": smtp_password is not None})
    return row


# -- quiet hours ----------------------------------------------------------------------------------
def quiet_release(now: datetime, settings: NotifySettings | None = None) -> datetime | None:
    """When ``now`` falls in quiet hours, the moment they end; otherwise None."""
    settings = settings or get_settings()
    tz = portal_tz()
    local = now.astimezone(tz)
    start, end = time.fromisoformat(settings.quiet_start), time.fromisoformat(settings.quiet_end)
    if start == end:
        return None
    t = local.time()
    if start < end:  # e.g. 12:00-13:30
        inside = start <= t < end
        release_day = local.date()
    else:  # over midnight, e.g. 20:00-08:00
        inside = t >= start or t < end
        release_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(release_day, end, tz).astimezone(now.tzinfo)


# -- preferences ----------------------------------------------------------------------------------
def user_preferences(user: User) -> list[tuple]:
    stored = dict(db.session.execute(
        sa.select(NotificationPreference.kind, NotificationPreference.mode).where(NotificationPreference.user_id == user.id)
    ).all())
    return [(kind, stored.get(kind.key, kind.default_mode)) for kind in kinds()]


def set_preference(user: User, kind: str, mode: str) -> None:
    if mode not in MODES:
        raise ServiceError(("mode", _("Unknown delivery mode.")))
    if kind not in {k.key for k in kinds()}:
        raise ServiceError(("kind", _("Unknown kind of notification.")))
    row = db.session.get(NotificationPreference, (user.id, kind))
    before = row.mode if row else get_kind(kind).default_mode
    if row is None:
        row = NotificationPreference(user_id=user.id, kind=kind, mode=mode)
        db.session.add(row)
    else:
        row.mode = mode
    db.session.flush()
    if before != mode:
        record("notify.preference_set", actor=user, object_type="notification_preference",
               object_id=f"{user.id}:{kind}", before={"mode": before}, after={"mode": mode})


# -- raising notifications ------------------------------------------------------------------------
def set_preferences(user: User, modes: dict[str, str | None]) -> None:
    """Save the modes chosen on the preferences page ({kind: mode}; kinds left empty keep theirs)."""
    for kind, mode in modes.items():
        if mode:
            set_preference(user, kind, mode)


def notify(recipient: User, kind: str, title: str, body: str = "", link: str = "", *,
           department_id: int | None = None, dedupe_key: str | None = None, webhook: bool = False,
           now: datetime | None = None) -> Notification:
    """Raise one notification: the in-app row, plus email (by the recipient's preference) and the
    department's group-chat webhooks (when ``webhook``), all in the caller's transaction."""
    return notify_many([recipient], kind, title, body, link, department_id=department_id,
                       dedupe_key=dedupe_key, webhook=webhook, now=now)[0]


def notify_many(recipients: list[User], kind: str, title: str, body: str = "", link: str = "", *,
                department_id: int | None = None, dedupe_key: str | None = None, webhook: bool = False,
                now: datetime | None = None) -> list[Notification]:
    return notify_each([Message(recipients, kind, title, body, link, department_id, dedupe_key, webhook)],
                       now=now)[0]


@dataclass
class Message:
    """One notification to raise for ``recipients`` (see ``notify_each``)."""

    recipients: list
    kind: str
    title: str
    body: str = ""
    link: str = ""
    department_id: int | None = None
    dedupe_key: str | None = None
    webhook: bool = False


def _modes_by_kind(user_ids: set[int], kinds_: set[str]) -> dict[tuple[int, str], str]:
    """(user id, kind) → delivery mode: the stored preference or the kind's default. One query."""
    out = {(uid, kind): get_kind(kind).default_mode for uid in user_ids for kind in kinds_}
    if user_ids:
        out.update({(row.user_id, row.kind): row.mode for row in db.session.execute(
            sa.select(NotificationPreference.user_id, NotificationPreference.kind, NotificationPreference.mode)
            .where(NotificationPreference.kind.in_(sorted(kinds_)),
                   NotificationPreference.user_id.in_(sorted(user_ids))))})
    return out


def notify_each(messages: list[Message], *, now: datetime | None = None) -> list[list[Notification]]:
    """Raise several notifications at once (a scan's): for each message what ``notify_many`` does — the in-app
    rows (those whose ``dedupe_key`` a recipient already has are returned, not raised again), an email delivery
    per recipient whose preference is instant (held until quiet hours end), the department's webhooks — in a
    fixed number of statements whatever the number of messages (the dedupe keys, the preferences, the settings,
    the notifications, the deliveries), plus one per message that asks for webhooks."""
    now = now or utcnow()
    lists = [[r for r in m.recipients if r is not None and r.active] for m in messages]
    if not any(lists):
        return [[] for _m in messages]
    user_ids = {u.id for users in lists for u in users}
    keys = {m.dedupe_key for m, users in zip(messages, lists) if m.dedupe_key and users}
    existing: dict[tuple[str, int], Notification] = {}
    if keys:
        existing = {(n.dedupe_key, n.recipient_id): n for n in db.session.scalars(
            sa.select(Notification).where(Notification.dedupe_key.in_(sorted(keys)),
                                          Notification.recipient_id.in_(sorted(user_ids))))}
    modes = _modes_by_kind(user_ids, {m.kind for m, users in zip(messages, lists) if users})
    release = quiet_release(now, get_settings())
    out: list[list[Notification]] = []
    fresh: list[tuple[Message, list[tuple[User, Notification]]]] = []
    for message, users in zip(messages, lists):
        notes, new = [], []
        for user in users:
            pair = (message.dedupe_key, user.id)
            if message.dedupe_key and pair in existing:
                notes.append(existing[pair])
                continue
            note = Notification(recipient_id=user.id, kind=message.kind, title=message.title[:200],
                                body=message.body, link=message.link[:500], department_id=message.department_id,
                                dedupe_key=message.dedupe_key, created_at=now)
            if message.dedupe_key:
                existing[pair] = note  # the same key twice in one call raises it once
            notes.append(note)
            new.append((user, note))
        out.append(notes)
        fresh.append((message, new))
    db.session.add_all([note for _m, new in fresh for _u, note in new])
    db.session.flush()  # ids for the idempotency keys

    due: list[Delivery] = []
    deliveries: list[Delivery] = []
    for message, new in fresh:
        for user, note in new:
            if modes[(user.id, message.kind)] == INSTANT and user.email:
                delivery = Delivery(channel="email", notification_id=note.id, recipient_id=user.id,
                                    target=user.email, idempotency_key=f"notification:{note.id}:email",
                                    next_attempt_at=release or now, created_at=now)
                deliveries.append(delivery)
                if release is None:
                    due.append(delivery)
        if message.webhook and message.department_id and new:
            first = new[0][1]
            hooks = db.session.scalars(sa.select(Webhook).where(Webhook.department_id == message.department_id,
                                                               Webhook.active.is_(True)))
            for hook in hooks:
                delivery = Delivery(channel="webhook", notification_id=first.id, target=str(hook.id),
                                    idempotency_key=f"notification:{first.id}:webhook:{hook.id}",
                                    next_attempt_at=now, created_at=now)
                deliveries.append(delivery)
                due.append(delivery)
    db.session.add_all(deliveries)
    db.session.flush()
    if due:
        from portal.notify.jobs import deliver_batch

        rq.enqueue_after_commit(deliver_batch, [d.id for d in due])
    return out


def email_address(address: str, source: str, source_id: int, *, now: datetime | None = None) -> Delivery:
    """Email someone who is no portal user (a customer): one outbox row in the caller's transaction, sent after
    it commits, retried like every delivery. The row keeps the address and ``(source, source_id)``; the message
    is written at send time by the email source registered under ``source`` (``register_email_source``).

    Once per ``(source, source_id)``: asking again returns the first row. Not held in quiet hours: quiet hours
    are the staff's; a customer's email waits in their inbox. The address is checked here (``ServiceError`` on
    ``address``), never logged, and masked on the row once the email is sent."""
    from portal.notify.registry import get_email_source

    if get_email_source(source) is None:
        raise ValueError(f"no email source {source!r} is registered")
    key = _address_key(source, source_id)
    existing = db.session.scalar(sa.select(Delivery).where(Delivery.idempotency_key == key))
    if existing is not None:
        return existing
    now = now or utcnow()
    delivery = Delivery(channel="email", target=clean_email(address, "address"), source=source, source_id=source_id,
                        idempotency_key=key, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.flush()
    from portal.notify.jobs import deliver_batch

    rq.enqueue_after_commit(deliver_batch, [delivery.id])
    return delivery


def email_statuses(source: str, source_ids: Iterable[int]) -> dict[int, str]:
    """{source_id: delivery status} of the emails to an address written by ``source`` (one query)."""
    ids = list(source_ids)
    if not ids:
        return {}
    keys = [_address_key(source, i) for i in ids]
    return dict(db.session.execute(sa.select(Delivery.source_id, Delivery.status).where(
        Delivery.idempotency_key.in_(keys))).all())


def _address_key(source: str, source_id: int) -> str:
    return f"{source}:{source_id}:email"


# -- reading --------------------------------------------------------------------------------------
def already_notified(dedupe_key: str, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` already have a notification with this dedupe key (e.g. today's reminder)."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(Notification.recipient_id).where(
        Notification.dedupe_key == dedupe_key, Notification.recipient_id.in_(ids))))


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None))
    ) or 0


def list_notifications(user: User, *, status: str = "all", kind: str = "", before: int | None = None,
                       limit: int = 30) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.recipient_id == user.id)
    if status == "unread":
        stmt = stmt.where(Notification.read_at.is_(None))
    elif status == "read":
        stmt = stmt.where(Notification.read_at.is_not(None))
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    if before:
        stmt = stmt.where(Notification.id < before)
    return list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def get_own_notification(user: User, notification_id: int) -> Notification:
    note = db.session.get(Notification, notification_id)
    if note is None or note.recipient_id != user.id:
        raise NotFound()
    return note


def mark_read(user: User, notification_id: int) -> Notification:
    note = get_own_notification(user, notification_id)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.flush()
    return note


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        sa.update(Notification).where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0
