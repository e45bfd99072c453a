"""Working the outbox: claim deliveries, send them, record the outcome.

A delivery is claimed by an atomic ``UPDATE … WHERE status = 'pending'`` committed *before* sending, so two
jobs for the same delivery (the after-commit job and the sweeper's) never both send it. A worker that dies
after claiming leaves the row ``sending``; the sweeper returns it to ``pending`` after
PORTAL_DELIVERY_STALE_SECONDS. Email is therefore at-least-once only in the moment between the SMTP
server's acceptance and our commit of ``sent``; everywhere else it is exactly once.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.orm import lazyload, selectinload

from portal.core.types import utcnow
from portal.extensions import db
from portal.notify import mail as mailer
from portal.notify import webhooks
from portal.notify.models import FAILED, PENDING, SENDING, SENT, Delivery, Webhook
from portal.org.models import User
from portal.org.services import mask_email

log = logging.getLogger(__name__)

_EMAIL_RE = re.compile(r"[^\s'\"<>(),;:]+@[^\s'\"<>(),;:]+")


def _mask(match: re.Match) -> str:
    return mask_email(match.group(0))


def claim(ids: list[int], now: datetime) -> list[int]:
    """Move due, pending deliveries to ``sending`` in one statement and commit; return the ids this caller
    now owns. The WHERE clause makes the claim atomic per row: a second job for the same rows gets none."""
    if not ids:
        return []
    owned = list(db.session.scalars(
        sa.update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == PENDING, Delivery.next_attempt_at <= now)
        .values(status=SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ))
    db.session.commit()
    return sorted(owned)


def _link(path: str) -> str:
    if not path or path.startswith("http"):
        return path
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


@dataclass
class _Claimed:
    """What is needed of a claimed delivery after its batch's read transaction has ended."""

    id: int
    attempts: int
    outgoing: mailer.OutgoingEmail | None = None
    error: Exception | None = None
    #: An email to an address (a customer's): once sent, the row keeps the address masked only.
    sent_target: str | None = None


def _email_for(delivery: Delivery, user: User | None) -> mailer.OutgoingEmail:
    locale = (user.locale if user and user.locale else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        if delivery.source is not None:
            subject, text, html = _addressed(delivery)
        elif delivery.digest_id is not None:
            from portal.notify.digest import digest_subject

            digest = delivery.digest
            subject = digest_subject(digest)
            text, html = mailer.render_email("digest", digest=digest, user=user, link=_link, portal_url=_link("/"))
        else:
            note = delivery.notification
            subject = note.title
            text, html = mailer.render_email("notification", note=note, user=user, link=_link(note.link),
                                             portal_url=_link("/"))
    return mailer.OutgoingEmail(to=delivery.target, subject=subject, text=text, html=html,
                                message_id=f"<{delivery.idempotency_key.replace(':', '.')}@quality-portal>",
                                delivery_id=delivery.id)


def _addressed(delivery: Delivery) -> tuple[str, str, str]:
    """An email to an address, written now by its registered source."""
    from portal.notify.registry import get_email_source

    source = get_email_source(delivery.source)
    if source is None:  # a worker without the domain's hooks: retried, it may reach one that has them
        raise RuntimeError(f"no email source {delivery.source!r} in this process")
    mail = source.render(delivery.source_id)
    if mail is None:
        raise mailer.PermanentFailure(f"{delivery.source} {delivery.source_id} is gone")
    return mail.subject, mail.text, mail.html


def _outcome(attempts: int, error: Exception | None, now: datetime) -> dict:
    """The column values recording one send: sent, retry later (exponential backoff) or failed for good."""
    if error is None:
        return {"status": SENT, "sent_at": utcnow(), "last_error": ""}
    cfg = current_app.config
    message = (str(error) or type(error).__name__)[:2000]
    if isinstance(error, mailer.PermanentFailure) or attempts >= cfg["PORTAL_DELIVERY_MAX_ATTEMPTS"]:
        return {"status": FAILED, "last_error": message}
    delay = cfg["PORTAL_DELIVERY_BACKOFF_SECONDS"] * (2 ** (attempts - 1))
    return {"status": PENDING, "next_attempt_at": now + timedelta(seconds=delay), "last_error": message}


def _settle(claimed: _Claimed, counts: dict, now: datetime, error: Exception | None) -> None:
    """Record the outcome of one send and commit it before the next one.

    ``PermanentFailure`` fails the row for good; any other error (a temporary failure, or a bug while
    building the message) is retried with backoff until the attempts run out, so one bad row never
    blocks the rest of its batch.
    """
    if error is not None and not isinstance(error, (mailer.PermanentFailure, mailer.TemporaryFailure)):
        log.error("delivery %s: unexpected error", claimed.id, exc_info=error)
        db.session.rollback()
    values = _outcome(claimed.attempts, error, now)
    if values["status"] == SENT and claimed.sent_target is not None:
        values["target"] = claimed.sent_target  # no longer needed in full: personal data kept no longer than that
    if values["status"] == FAILED:
        # the row keeps the whole error; the log gets no address (a customer's is personal data)
        log.warning("delivery %s failed for good: %s", claimed.id, _EMAIL_RE.sub(_mask, values["last_error"]))
    db.session.execute(sa.update(Delivery).where(Delivery.id == claimed.id).values(**values))
    db.session.commit()
    counts[{SENT: "sent", FAILED: "failed", PENDING: "retry"}[values["status"]]] += 1


def process(ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Claim and send these deliveries; emails share one SMTP connection. Returns counts by outcome.

    The batch is read in a fixed number of queries and every message is built before the first send;
    then each outcome is one UPDATE and one COMMIT.
    """
    now = now or utcnow()
    owned = claim(ids, now)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not owned:
        return counts
    deliveries = list(db.session.scalars(
        sa.select(Delivery).where(Delivery.id.in_(owned)).order_by(Delivery.id)
        .options(selectinload(Delivery.digest), selectinload(Delivery.notification))
    ))
    recipient_ids = {d.recipient_id for d in deliveries if d.recipient_id}
    users = {u.id: u for u in db.session.scalars(
        sa.select(User).where(User.id.in_(recipient_ids)).options(lazyload(User.role_rows))
    )} if recipient_ids else {}
    emails: list[_Claimed] = []
    hooks: list[tuple[_Claimed, tuple[str, dict] | None]] = []
    allowed_hosts: list[str] = []
    for delivery in deliveries:
        claimed = _Claimed(delivery.id, delivery.attempts,
                           sent_target=mask_email(delivery.target) if delivery.source is not None else None)
        try:
            if delivery.channel == "email":
                claimed.outgoing = _email_for(delivery, users.get(delivery.recipient_id))
            else:
                hooks.append((claimed, _webhook_request(delivery)))
                continue
        except Exception as exc:  # noqa: BLE001 — recorded on the row below
            claimed.error = exc
        emails.append(claimed)
    if hooks:
        from portal.notify.admin import allowed_webhook_hosts

        allowed_hosts = allowed_webhook_hosts()
    db.session.commit()  # no transaction stays open across network I/O (SQLite would stay write-locked)
    if emails:
        _send_emails(emails, now, counts)
    for claimed, request in hooks:
        _send_webhook(claimed, request, now, counts, allowed_hosts)
    return counts


def _send_emails(batch: list[_Claimed], now: datetime, counts: dict) -> None:
    from portal.notify.services import decrypt_secret, get_settings

    settings = get_settings()
    password = decrypt_secret(settings.smtp_password_encrypted)
    if settings in db.session:
        db.session.expunge(settings)  # keep its loaded values usable after the commit below
    db.session.commit()
    try:
        transport = mailer.Transport(settings, password).__enter__()
    except mailer.TemporaryFailure as exc:
        for claimed in batch:
            _settle(claimed, counts, now, exc)
        return
    try:
        for claimed in batch:
            if claimed.error is not None:
                _settle(claimed, counts, now, claimed.error)
                continue
            try:
                if transport.smtp is None and not transport.capturing:
                    transport.__enter__()
                transport.send(claimed.outgoing)
            except Exception as exc:  # noqa: BLE001 — every failure is recorded on its own row
                _settle(claimed, counts, now, exc)
            else:
                _settle(claimed, counts, now, None)
    finally:
        transport.__exit__(None, None, None)


def _webhook_request(delivery: Delivery) -> tuple[str, dict] | None:
    """The URL and body to post, or None when the robot was removed or deactivated."""
    from portal.notify.services import decrypt_secret

    hook = db.session.get(Webhook, int(delivery.target))
    note = delivery.notification
    if hook is None or not hook.active or note is None:
        return None
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        markdown = note.body or ""
        if note.link:
            markdown += f"\n\n[{_open_label()}]({_link(note.link)})"
    return webhooks.build_request(hook.platform, hook.url, decrypt_secret(hook.secret), note.title, markdown)


def _send_webhook(claimed: _Claimed, request: tuple[str, dict] | None, now: datetime, counts: dict,
                  allowed_hosts: list[str]) -> None:
    if claimed.error is not None or request is None:
        _settle(claimed, counts, now, claimed.error or mailer.PermanentFailure("webhook removed or deactivated"))
        return
    url, body = request
    try:
        # The address is checked again here and the connection goes to the address that was checked.
        webhooks.post(url, body, current_app.config["PORTAL_WEBHOOK_TIMEOUT"], allowed_hosts)
    except Exception as exc:  # noqa: BLE001
        _settle(claimed, counts, now, exc)
    else:
        _settle(claimed, counts, now, None)


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


