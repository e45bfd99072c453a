"""Working the outbox: claim deliveries, send them, record the outcome.

A delivery is claimed by an atomic ``UPDATE … WHERE status = 'pending'`` committed *before* sending, so two
jobs for the same delivery (the after-commit job and the sweeper's) never both send it. A worker that dies
after claiming leaves the row ``sending``; the sweeper returns it to ``pending`` after
PORTAL_DELIVERY_STALE_SECONDS. Email is therefore at-least-once only in the moment between the SMTP
server's acceptance and our commit of ``sent``; everywhere else it is exactly once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from portal.core.types import utcnow
from portal.extensions import db
from portal.notify import mail as mailer
from portal.notify import webhooks
from portal.notify.models import FAILED, PENDING, SENDING, SENT, Delivery, Webhook
from portal.org.models import User

log = logging.getLogger(__name__)


def claim(ids: list[int], now: datetime) -> list[int]:
    """Move due, pending deliveries to ``sending`` and commit; return the ids this caller now owns."""
    if not ids:
        return []
    owned = []
    for delivery_id in ids:
        result = db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == PENDING, Delivery.next_attempt_at <= now)
            .values(status=SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
        )
        if result.rowcount:
            owned.append(delivery_id)
    db.session.commit()
    return owned


def _link(path: str) -> str:
    if not path or path.startswith("http"):
        return path
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _email_for(delivery: Delivery) -> mailer.OutgoingEmail:
    user = db.session.get(User, delivery.recipient_id) if delivery.recipient_id else None
    locale = (user.locale if user and user.locale else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        if delivery.digest_id is not None:
            digest = delivery.digest
            from portal.notify.digest import digest_subject

            subject = digest_subject(digest)
            text, html = mailer.render_email("digest", digest=digest, user=user, link=_link,
                                             portal_url=_link("/"))
        else:
            note = delivery.notification
            subject = note.title
            text, html = mailer.render_email("notification", note=note, user=user, link=_link(note.link),
                                             portal_url=_link("/"))
    return mailer.OutgoingEmail(to=delivery.target, subject=subject, text=text, html=html,
                                message_id=f"<{delivery.idempotency_key.replace(':', '.')}@quality-portal>",
                                delivery_id=delivery.id)


def _retry_or_fail(delivery: Delivery, error: str, now: datetime, permanent: bool) -> None:
    cfg = current_app.config
    delivery.last_error = error[:2000]
    if permanent or delivery.attempts >= cfg["PORTAL_DELIVERY_MAX_ATTEMPTS"]:
        delivery.status = FAILED
        log.warning("delivery %s failed for good: %s", delivery.id, error)
    else:
        delay = cfg["PORTAL_DELIVERY_BACKOFF_SECONDS"] * (2 ** (delivery.attempts - 1))
        delivery.status = PENDING
        delivery.next_attempt_at = now + timedelta(seconds=delay)


def process(ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Claim and send these deliveries; emails share one SMTP connection. Returns counts by outcome."""
    now = now or utcnow()
    owned = claim(ids, now)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not owned:
        return counts
    deliveries = db.session.scalars(sa.select(Delivery).where(Delivery.id.in_(owned)).order_by(Delivery.id)).all()
    emails = [d for d in deliveries if d.channel == "email"]
    hooks = [d for d in deliveries if d.channel == "webhook"]
    if emails:
        _send_emails(emails, now, counts)
    for delivery in hooks:
        _send_webhook(delivery, now, counts)
    return counts


def _settle(delivery: Delivery, counts: dict, now: datetime, error: Exception | None) -> None:
    """Record the outcome of one send and commit it before the next one.

    ``PermanentFailure`` fails the row for good; any other error (a temporary failure, or a bug while
    building the message) is retried with backoff until the attempts run out, so one bad row never
    blocks the rest of its batch.
    """
    if error is None:
        delivery.status, delivery.sent_at, delivery.last_error = SENT, utcnow(), ""
        counts["sent"] += 1
    else:
        if not isinstance(error, (mailer.PermanentFailure, mailer.TemporaryFailure)):
            log.exception("delivery %s: unexpected error", delivery.id, exc_info=error)
            db.session.rollback()
        _retry_or_fail(delivery, str(error) or type(error).__name__, now,
                       permanent=isinstance(error, mailer.PermanentFailure))
        counts["failed" if delivery.status == FAILED else "retry"] += 1
    db.session.commit()


def _send_emails(deliveries: list[Delivery], now: datetime, counts: dict) -> None:
    from portal.notify.services import decrypt_secret, get_settings

    settings = get_settings()
    password = decrypt_secret(settings.smtp_password_encrypted)
    if settings in db.session:
        db.session.expunge(settings)  # keep its loaded values usable after the commit below
    db.session.commit()  # no transaction stays open across network I/O (SQLite would stay write-locked)
    try:
        transport = mailer.Transport(settings, password).__enter__()
    except mailer.TemporaryFailure as exc:
        for delivery in deliveries:
            _settle(delivery, counts, now, exc)
        return
    try:
        for delivery in deliveries:
            try:
                if transport.smtp is None and not transport.capturing:
                    transport.__enter__()
                outgoing = _email_for(delivery)
                db.session.commit()
                transport.send(outgoing)
            except Exception as exc:  # noqa: BLE001 — every failure is recorded on its own row
                _settle(delivery, counts, now, exc)
            else:
                _settle(delivery, counts, now, None)
    finally:
        transport.__exit__(None, None, None)


def _send_webhook(delivery: Delivery, now: datetime, counts: dict) -> None:
    hook = db.session.get(Webhook, int(delivery.target))
    note = delivery.notification
    if hook is None or not hook.active or note is None:
        _settle(delivery, counts, now, mailer.PermanentFailure("webhook removed or deactivated"))
        return
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        markdown = note.body or ""
        if note.link:
            markdown += f"\n\n[{_open_label()}]({_link(note.link)})"
    from portal.notify.services import decrypt_secret

    url, body = webhooks.build_request(hook.platform, hook.url, decrypt_secret(hook.secret), note.title, markdown)
    db.session.commit()  # no transaction stays open across network I/O
    try:
        webhooks.post(url, body, current_app.config["PORTAL_WEBHOOK_TIMEOUT"])
    except Exception as exc:  # noqa: BLE001
        _settle(delivery, counts, now, exc)
    else:
        _settle(delivery, counts, now, None)


def _open_label() -> str:
    from flask_babel import gettext as _

    return _("Open in the portal")


def sweep(now: datetime | None = None, batch: int = 50, limit: int = 5000) -> list[list[int]]:
    """Recover deliveries left ``sending`` by dead workers, and return the due pending ids in batches."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["PORTAL_DELIVERY_STALE_SECONDS"])
    db.session.execute(
        sa.update(Delivery).where(Delivery.status == SENDING, Delivery.claimed_at < stale)
        .values(status=PENDING, last_error="worker stopped while sending; retried")
    )
    db.session.commit()
    ids = list(db.session.scalars(
        sa.select(Delivery.id).where(Delivery.status == PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.id).limit(limit)
    ))
    return [ids[i:i + batch] for i in range(0, len(ids), batch)]


def retry_failed(delivery_id: int, now: datetime | None = None) -> bool:
    """An administrator sends a failed delivery again (fresh attempts)."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != FAILED:
        return False
    delivery.status, delivery.attempts, delivery.next_attempt_at = PENDING, 0, now or utcnow()
    db.session.flush()
    return True


