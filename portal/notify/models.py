from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# Delivery modes a user picks per kind of notification.
INSTANT = "instant"  # in-app now, email now (held during quiet hours)
DIGEST = "digest"  # in-app now, email only in the daily digest
INAPP = "inapp"  # in-app only
MODES = (INSTANT, DIGEST, INAPP)

# Delivery statuses.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)


class Notification(db.Model):
    """One notification for one user; the row itself is the in-app channel."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    #: Set by the caller so that a retried request raises the same notification only once.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recipient = relationship("User")

    __table_args__ = (
        sa.Index("ix_notification_recipient_unread", "recipient_id", "read_at"),
        sa.Index("ix_notification_recipient_created", "recipient_id", "created_at"),
        sa.UniqueConstraint("recipient_id", "dedupe_key", name="uq_notification_recipient_dedupe"),
    )


class Delivery(db.Model):
    """The outbox: one row per external channel (email, webhook) of a notification or digest, or one email to
    an address (``source``), written in the same transaction as the business change. ``idempotency_key`` is
    unique, so nothing is sent twice because a job ran twice."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(16))  # email | webhook
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notification.id"), index=True)
    digest_id: Mapped[int | None] = mapped_column(sa.ForeignKey("digest.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    #: The email address or webhook id at the time of the intent.
    target: Mapped[str] = mapped_column(sa.String(500))
    #: An email to an address that is no portal user's (a customer's): the registered email source
    #: (``registry.register_email_source``) that writes it at send time from the row ``source_id`` names.
    source: Mapped[str | None] = mapped_column(sa.String(64))
    source_id: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    notification = relationship(Notification)
    digest = relationship("Digest")

    __table_args__ = (sa.Index("ix_delivery_status_next", "status", "next_attempt_at"),)


class Digest(db.Model):
    """The daily digest of one user for one day; its sections are stored so the portal shows what was sent."""

    __tablename__ = "digest"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    sections: Mapped[list] = mapped_column(sa.JSON, default=list)
    item_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User")

    __table_args__ = (sa.UniqueConstraint("user_id", "day", name="uq_digest_user_day"),)


class NotificationPreference(db.Model):
    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(sa.String(16))


class CapturedEmail(db.Model):
    """发件箱: with no SMTP server configured (the embedded default), every email is kept here instead."""

    __tablename__ = "captured_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(sa.ForeignKey("delivery.id"), index=True)
    to: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    text: Mapped[str] = mapped_column(sa.Text)
    html: Mapped[str] = mapped_column(sa.Text)
    raw: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Webhook(db.Model):
    """A department's group-chat robot (企业微信, 钉钉 or 飞书)."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    platform: Mapped[str] = mapped_column(sa.String(16))  # wecom | dingtalk | feishu
    url: Mapped[str] = mapped_column(sa.String(500))
    #: Encrypted like the SMTP password.
    secret: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department = relationship("Department")


class NotifySettings(db.Model):
    """Admin-editable settings (one row): SMTP, quiet hours and the digest time. Environment variables
    supply the defaults until an administrator saves this form."""

    __tablename__ = "notify_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    smtp_host: Mapped[str] = mapped_column(sa.String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=25)
    smtp_security: Mapped[str] = mapped_column(sa.String(16), default="none")
    smtp_user: Mapped[str] = mapped_column(sa.String(255), default="")
    #: Encrypted with a key derived from SECRET_KEY (Fernet).
    smtp_password_encrypted: Mapped[str] = mapped_column(sa.Text, default="")
    smtp_from: Mapped[str] = mapped_column(sa.String(255), default="")
    quiet_start: Mapped[str] = mapped_column(sa.String(5), default="20:00")
    quiet_end: Mapped[str] = mapped_column(sa.String(5), default="08:00")
    digest_time: Mapped[str] = mapped_column(sa.String(5), default="08:30")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAllowedHost(db.Model):
    """A host an administrator allows robots to post to besides the WeCom, DingTalk and Feishu robot hosts
    (an internal relay, say). Allowing a host lets its private-network addresses through, never link-local,
    multicast or unspecified ones (see portal.notify.webhooks)."""

    __tablename__ = "webhook_allowed_host"

    host: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
