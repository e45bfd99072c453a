"""客户意见采集: service points (服务点/窗口) with their QR keys, staff codes (一人一码), and the feedback stream
that kiosk forms, tablets, smiley terminals (the API) and staff-entered complaints all write into.

A feedback row is written once by its intake and never deleted: spam is flagged and kept (hidden from the
queue by default), a duplicate intake (double tap, network retry, replayed form token, a repeated
``Idempotency-Key``) finds the row it already wrote through ``idempotency_key``, which is unique.

The 查询码 (follow-up code) is not stored as such: ``query_code_digest`` (HMAC-SHA256 under a key derived from
SECRET_KEY) finds the row when a customer types the code, and ``query_code_sealed`` (Fernet under another
derived key) lets the code be shown again to whoever may see it (the submitter's retried request, the
staff member who entered the complaint). A copy of the database alone reveals no code.

The status, the reply and the customer's rating of the resolution are filled in by the triage queues
(issue 12); intake writes ``new``.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db

# -- the 好差评 scale (政务服务"好差评", 5 levels) ----------------------------------------------------------
RATING_LABELS = {
    5: lazy_pgettext("rating", "Very satisfied"),
    4: lazy_pgettext("rating", "Satisfied"),
    3: lazy_pgettext("rating", "Basically satisfied"),
    2: lazy_pgettext("rating", "Dissatisfied"),
    1: lazy_pgettext("rating", "Very dissatisfied"),
}
RATINGS = (5, 4, 3, 2, 1)
#: Ratings at or below this are 差评 (不满意, 非常不满意).
NEGATIVE_MAX = 2

# -- channels -------------------------------------------------------------------------------------------
KIOSK, TABLET, DEVICE = "kiosk", "tablet", "device"
PHONE, LETTER, EMAIL, HOTLINE, SOCIAL, IN_PERSON = "phone", "letter", "email", "hotline_12345", "social_media", "in_person"
CHANNEL_LABELS = {
    KIOSK: lazy_pgettext("channel", "QR code (customer's phone)"),
    TABLET: lazy_pgettext("channel", "Rating tablet"),
    DEVICE: lazy_pgettext("channel", "Rating terminal or integration (API)"),
    PHONE: lazy_pgettext("channel", "Telephone"),
    LETTER: lazy_pgettext("channel", "Letter"),
    EMAIL: lazy_pgettext("channel", "Email"),
    HOTLINE: lazy_pgettext("channel", "12345 hotline"),
    SOCIAL: lazy_pgettext("channel", "Social media"),
    IN_PERSON: lazy_pgettext("channel", "In person"),
}
CHANNELS = tuple(CHANNEL_LABELS)
#: The channels through which staff record what a customer said elsewhere.
STAFF_CHANNELS = (PHONE, LETTER, EMAIL, HOTLINE, SOCIAL, IN_PERSON)

# -- kinds ----------------------------------------------------------------------------------------------
RATING, COMPLAINT, PRAISE, SUGGESTION = "rating", "complaint", "praise", "suggestion"
KIND_LABELS = {
    RATING: lazy_pgettext("feedback kind", "Rating"),
    COMPLAINT: lazy_pgettext("feedback kind", "Complaint"),
    PRAISE: lazy_pgettext("feedback kind", "Praise"),
    SUGGESTION: lazy_pgettext("feedback kind", "Suggestion"),
}
KINDS = tuple(KIND_LABELS)
STAFF_KINDS = (COMPLAINT, PRAISE, SUGGESTION)

# -- status (the queues add to this) ------------------------------------------------------------------------
NEW, REPLIED, RESOLVED = "new", "replied", "resolved"
STATUS_LABELS = {
    NEW: lazy_pgettext("feedback status", "Received"),
    REPLIED: lazy_pgettext("feedback status", "Replied"),
    RESOLVED: lazy_pgettext("feedback status", "Resolved"),
}

#: What a category chip offers when a service point lists none of its own.
DEFAULT_CATEGORIES = ("服务态度", "办理效率", "等候时间", "业务能力", "环境设施", "收费", "其他")

# -- spam reasons ---------------------------------------------------------------------------------------
SPAM_HONEYPOT, SPAM_STALE_FORM, SPAM_LINKS, SPAM_REPEAT = "honeypot", "stale_form", "links", "repeat"
SPAM_LABELS = {
    SPAM_HONEYPOT: lazy_pgettext("spam reason", "A field hidden from people was filled in"),
    SPAM_STALE_FORM: lazy_pgettext("spam reason", "The form was older than allowed"),
    SPAM_LINKS: lazy_pgettext("spam reason", "The comment is mostly links"),
    SPAM_REPEAT: lazy_pgettext("spam reason", "The same comment again from the same address"),
}


class ServicePoint(db.Model):
    """服务点/窗口: a counter, desk or hall where customers are served and rate the service."""

    __tablename__ = "service_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Printed on posters and part of the kiosk URL forever: upper-case letters, digits and hyphens.
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process.id"), index=True)
    opening_hours: Mapped[str] = mapped_column(sa.String(200), default="")
    #: The category chips of the kiosk form, one per line; empty: DEFAULT_CATEGORIES.
    categories_text: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True, index=True)
    #: The key of the kiosk URL's signature. Replaced only when an administrator rotates it, which
    #: invalidates every poster and desk plate printed before.
    qr_secret: Mapped[str] = mapped_column(sa.String(64))
    qr_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department = relationship("Department")
    process = relationship("Process")
    staff_codes: Mapped[list["StaffCode"]] = relationship(back_populates="service_point", order_by="StaffCode.code")

    @property
    def categories(self) -> list[str]:
        own = [c.strip() for c in (self.categories_text or "").splitlines() if c.strip()]
        return own or list(DEFAULT_CATEGORIES)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


class StaffCode(db.Model):
    """一人一码: a clerk's own QR code at a service point, so that a rating names the window and the person."""

    __tablename__ = "staff_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The point's code, a hyphen and a number (KF01-03); never the code of a service point.
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service_point: Mapped[ServicePoint] = relationship(back_populates="staff_codes")
    user = relationship("User")


class Feedback(db.Model):
    """One customer's feedback, whatever the channel."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(16), default=RATING)
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    #: The department whose queue it belongs to: the point's department at intake, or chosen by staff.
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    #: The clerk rated through their staff code; shown only to their head and quality managers.
    staff_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    staff_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_code.id"))
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    nps: Mapped[int | None] = mapped_column(sa.SmallInteger)
    categories: Mapped[list] = mapped_column(sa.JSON, default=list)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    #: Contact details, stored only with consent (个人信息保护法), with the purpose the customer agreed to.
    contact_name: Mapped[str] = mapped_column(sa.String(50), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    contact_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_purpose: Mapped[str] = mapped_column(sa.String(300), default="")

    query_code_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    query_code_sealed: Mapped[str] = mapped_column(sa.String(200))
    #: One intake, one row: the kiosk form's token, the API's Idempotency-Key (per token), staff's request key.
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    #: SHA-256 of an API request's body, so that a key reused for a different body is refused.
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64), default="")

    status: Mapped[str] = mapped_column(sa.String(20), default=NEW)
    is_spam: Mapped[bool] = mapped_column(default=False)
    spam_reasons: Mapped[str] = mapped_column(sa.String(100), default="")
    #: A keyed hash of the sender's address (never the address): enough to see a burst from one place.
    source_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    reply: Mapped[str] = mapped_column(sa.Text, default="")
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    resolution_rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    api_token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_token.id"))
    #: When the customer rated: the tablet's own time for a rating kept while offline, else ``created_at``.
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service_point = relationship(ServicePoint)
    department = relationship("Department")
    staff_user = relationship("User", foreign_keys=[staff_user_id])
    created_by = relationship("User", foreign_keys=[created_by_id])

    __table_args__ = (
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("nps IS NULL OR nps BETWEEN 0 AND 10", name="nps_range"),
        sa.Index("ix_feedback_department_created", "department_id", "created_at"),
        sa.Index("ix_feedback_point_created", "service_point_id", "created_at"),
        sa.Index("ix_feedback_created", "created_at"),
        sa.Index("ix_feedback_spam_created", "is_spam", "created_at"),
        # the repeat check of intake: the same address's recent rows (constant cost, however busy the point)
        sa.Index("ix_feedback_source_created", "source_hash", "created_at"),
    )

    @property
    def is_negative(self) -> bool:
        return self.rating is not None and self.rating <= NEGATIVE_MAX

    @property
    def has_contact(self) -> bool:
        return bool(self.contact_phone or self.contact_email)
