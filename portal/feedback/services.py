"""客户意见采集: service points and staff codes, intake from every channel into one stream, the 查询码, and
what staff read of it. Services check who may do what (``portal.feedback.access``), flush, record the audit
trail, and never commit.

Intake (:func:`receive`) is the one way a feedback row is written, whatever the channel:

1. the submission is checked (rating, NPS, categories, comment, contact only with consent);
2. suspicious submissions are flagged as spam and kept, never dropped;
3. the row is inserted with ``ON CONFLICT DO NOTHING``: when its idempotency key is taken (a double tap, a
   network retry, a replayed form token, a repeated ``Idempotency-Key``, or a twin request a moment earlier on
   another connection), the row already there is the answer and nothing new is written; a 查询码 that collides
   (about one in 10¹² per pair) is drawn again;
4. in the same transaction: the department head's notification for a 差评 or a complaint (an outbox row: sent
   after the commit, or later by the sweeper when Redis was down), the ``feedback_received`` signal for the
   queues, and an audit event when a member of staff entered it (or PORTAL_AUDIT_CUSTOMER_INTAKE is on).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import selectinload
from flask_babel import gettext as _

from portal import signals
from portal.audit.services import record
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import access, codes
from portal.feedback.models import NEW as FEEDBACK_NEW
from portal.feedback.models import (CHANNELS, COMPLAINT, KINDS, NEGATIVE_MAX, RATING, RATING_LABELS, REPLIED, RESOLVED,
                                    SPAM_LINKS, SPAM_REPEAT, STAFF_CHANNELS, STAFF_KINDS, Feedback, ServicePoint,
                                    StaffCode)
from portal.org.models import Department, User, UserRole
from portal.org.services import clean_email

KIND_NEGATIVE = "feedback.negative"
KIND_COMPLAINT = "feedback.complaint"

#: Longest comment from a customer's own form or a terminal; staff may write more of what they were told.
MAX_COMMENT = 500
MAX_STAFF_COMMENT = 2000
MAX_CATEGORIES = 10

_CODE_RE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_LANDLINE_RE = re.compile(r"0\d{2,3}\d{7,8}(?:\d{1,5})?")
_LINK_RE = re.compile(r"https?://|www\.", re.I)


def consent_purpose() -> str:
    """What the customer agrees to when leaving contact details (stored with them, as shown)."""
    return _("Only to contact you about this feedback (to check the facts and tell you the outcome); not for any "
             "other purpose.")


# -- service points -------------------------------------------------------------------------------------
@dataclass
class PointFields:
    code: str
    name: str
    location: str
    department_id: int | None
    process_id: int | None
    opening_hours: str
    categories_text: str
    active: bool = True


def _point_snapshot(point: ServicePoint) -> dict:
    return {"code": point.code, "name": point.name, "location": point.location, "department_id": point.department_id,
            "process_id": point.process_id, "opening_hours": point.opening_hours,
            "categories": point.categories_text, "active": point.active}


def clean_point_code(value: str) -> str:
    code = (value or "").strip().upper()
    if not code or len(code) > 16 or not _CODE_RE.fullmatch(code):
        raise ServiceError(("code", _("A code is 1–16 capital letters, digits and hyphens, e.g. KF01 or OPS-3.")))
    return code


def _validate_point(fields: PointFields, existing: ServicePoint | None) -> dict:
    errors: list[tuple[str | None, str]] = []
    values: dict = {}
    try:
        values["code"] = clean_point_code(fields.code)
    except ServiceError as exc:
        errors += exc.errors
    else:
        taken = db.session.scalar(sa.select(ServicePoint.id).where(ServicePoint.code == values["code"]))
        if taken is not None and (existing is None or taken != existing.id):
            errors.append(("code", _("Another service point has the code %(code)s.", code=values["code"])))
        elif db.session.scalar(sa.select(StaffCode.id).where(StaffCode.code == values["code"])):
            errors.append(("code", _("%(code)s is a staff code.", code=values["code"])))
        elif existing is not None and existing.code != values["code"]:
            errors.append(("code", _("The code of a service point cannot change: it is printed on its posters.")))
    name = (fields.name or "").strip()
    if not name or len(name) > 100:
        errors.append(("name", _("Give the service point a name (at most 100 characters).")))
    department = db.session.get(Department, fields.department_id) if fields.department_id else None
    if department is None or not department.active:
        errors.append(("department_id", _("Choose an active department.")))
    if fields.process_id:
        from portal.processes.services import get_process

        try:
            get_process(fields.process_id)
        except NotFound:
            errors.append(("process_id", _("Choose a process from the list.")))
    categories = [c.strip() for c in (fields.categories_text or "").splitlines() if c.strip()]
    if len(categories) > 12 or any(len(c) > 20 for c in categories):
        errors.append(("categories_text", _("At most 12 categories, each at most 20 characters.")))
    if errors:
        raise ServiceError(*errors)
    values.update(name=name, location=(fields.location or "").strip()[:200], department_id=department.id,
                  process_id=fields.process_id or None, opening_hours=(fields.opening_hours or "").strip()[:200],
                  categories_text="\n".join(dict.fromkeys(categories)), active=bool(fields.active))
    return values


def create_point(actor: User, fields: PointFields) -> ServicePoint:
    if not access.may_manage_points(actor):
        raise PermissionDenied()
    values = _validate_point(fields, None)
    point = ServicePoint(**values, qr_secret=codes.new_point_secret())
    db.session.add(point)
    db.session.flush()
    record("feedback.point_create", point, actor=actor, after=_point_snapshot(point))
    return point


def update_point(actor: User, point: ServicePoint, fields: PointFields) -> ServicePoint:
    if not access.may_manage_points(actor):
        raise PermissionDenied()
    fields.code = point.code
    values = _validate_point(fields, point)
    before = _point_snapshot(point)
    for key, value in values.items():
        setattr(point, key, value)
    point.updated_at = utcnow()
    db.session.flush()
    record("feedback.point_update", point, actor=actor, before=before, after=_point_snapshot(point))
    return point


def rotate_point_key(actor: User, point: ServicePoint) -> ServicePoint:
    """A new QR key: the point's kiosk URL (and its staff codes') changes, every printed poster stops working."""
    if not access.may_rotate(actor):
        raise PermissionDenied()
    point.qr_secret = codes.new_point_secret()
    point.qr_rotated_at = utcnow()
    db.session.flush()
    record("feedback.point_rotate", point, actor=actor, extra={"code": point.code})
    return point


def get_point(actor: User, point_id: int) -> ServicePoint:
    """The point, for those who look after it; 403 for whoever looks after no point at all (as the list),
    404 for a head of another department (they may not know it exists)."""
    if not access.may_see_points(actor):
        raise PermissionDenied()
    point = db.session.get(ServicePoint, point_id,  # its page lists the staff codes with their clerks
                           options=[selectinload(ServicePoint.staff_codes).selectinload(StaffCode.user)])
    if point is None or not (access.may_manage_points(actor) or access.may_look_after_point(actor, point)):
        raise NotFound()
    return point


def list_points(actor: User, *, include_inactive: bool = True) -> list[ServicePoint]:
    """The points ``actor`` looks after (all of them for quality managers and administrators)."""
    stmt = (sa.select(ServicePoint).order_by(ServicePoint.code)
            .options(selectinload(ServicePoint.department), selectinload(ServicePoint.process)))
    if not access.is_manager(actor):
        headed = access.headed_department_ids(actor)
        if not headed:
            return []
        stmt = stmt.where(ServicePoint.department_id.in_(headed))
    if not include_inactive:
        stmt = stmt.where(ServicePoint.active.is_(True))
    return list(db.session.scalars(stmt))


def active_points() -> list[ServicePoint]:
    return list(db.session.scalars(sa.select(ServicePoint).where(ServicePoint.active.is_(True))
                                   .options(selectinload(ServicePoint.department)).order_by(ServicePoint.code)))


def known_categories() -> list[str]:
    """Every category a customer can choose today: the default chips and each active point's own, in that order
    (for other domains' pages, e.g. the queues' routing rules)."""
    from portal.feedback.models import DEFAULT_CATEGORIES

    known = dict.fromkeys(DEFAULT_CATEGORIES)
    for point in db.session.scalars(sa.select(ServicePoint).where(ServicePoint.active.is_(True))
                                    .order_by(ServicePoint.code)):
        known.update(dict.fromkeys(point.categories))
    return list(known)


def point_by_code(code: str) -> ServicePoint | None:
    return db.session.scalar(sa.select(ServicePoint).where(ServicePoint.code == (code or "").upper()[:20]))


# -- staff codes (一人一码) ---------------------------------------------------------------------------------
def add_staff_code(actor: User, point: ServicePoint, user_id: int | None) -> StaffCode:
    if not access.may_look_after_point(actor, point):
        raise PermissionDenied()
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active:
        raise ServiceError(("user_id", _("Choose an active employee.")))
    existing = db.session.scalar(sa.select(StaffCode).where(StaffCode.service_point_id == point.id,
                                                            StaffCode.user_id == user.id, StaffCode.active.is_(True)))
    if existing is not None:
        raise ServiceError(("user_id", _("%(name)s already has a code at this point: %(code)s.",
                                         name=user.display_name, code=existing.code)))
    taken = set(db.session.scalars(sa.select(StaffCode.code).where(StaffCode.service_point_id == point.id)))
    number = 1
    while f"{point.code}-{number:02d}" in taken or point_by_code(f"{point.code}-{number:02d}") is not None:
        number += 1
    staff_code = StaffCode(code=f"{point.code}-{number:02d}", service_point_id=point.id, user_id=user.id)
    db.session.add(staff_code)
    db.session.flush()
    record("feedback.staff_code_create", staff_code, actor=actor,
           after={"code": staff_code.code, "user_id": user.id, "service_point_id": point.id})
    return staff_code


def set_staff_code_active(actor: User, staff_code: StaffCode, active: bool) -> StaffCode:
    if not access.may_look_after_point(actor, staff_code.service_point):
        raise PermissionDenied()
    if staff_code.active != active:
        staff_code.active = active
        db.session.flush()
        record("feedback.staff_code_update", staff_code, actor=actor, before={"active": not active},
               after={"active": active})
    return staff_code


def get_staff_code(actor: User, point: ServicePoint, staff_code_id: int) -> StaffCode:
    staff_code = db.session.get(StaffCode, staff_code_id)
    if staff_code is None or staff_code.service_point_id != point.id:
        raise NotFound()
    return staff_code


def printable(actor: User, point: ServicePoint, staff_code_id: int | None = None
              ) -> tuple[ServicePoint, StaffCode | None]:
    """``point``, or one of its staff codes (``staff_code_id``), when ``actor`` may print its poster, desk
    plate or QR code: NotFound for someone who does not look after the point or a staff code of another
    point; refused for a deactivated point or a retired staff code, whose QR code would lead to a "not
    found" page."""
    if not access.may_look_after_point(actor, point):
        raise NotFound()
    staff_code = get_staff_code(actor, point, staff_code_id) if staff_code_id else None
    if not point.active:
        raise ServiceError((None, _("%(code)s is deactivated: its QR code leads nowhere. Activate it before printing "
                                    "its posters.", code=point.code)))
    if staff_code is not None and not staff_code.active:
        raise ServiceError((None, _("Staff code %(code)s is retired: its QR code leads nowhere.",
                                    code=staff_code.code)))
    return point, staff_code


# -- kiosk URLs -------------------------------------------------------------------------------------------
def kiosk_path(point: ServicePoint, staff_code: StaffCode | None = None) -> str:
    code = staff_code.code if staff_code is not None else point.code
    return url_for("kiosk.form", code=code, sig=codes.kiosk_signature(point.qr_secret, code))


def kiosk_url(point: ServicePoint, staff_code: StaffCode | None = None) -> str:
    """The absolute URL printed on posters (PORTAL_KIOSK_BASE_URL, else PORTAL_BASE_URL)."""
    base = (current_app.config.get("PORTAL_KIOSK_BASE_URL") or current_app.config["PORTAL_BASE_URL"]).rstrip("/")
    return base + kiosk_path(point, staff_code)


def point_of_code(code: str) -> tuple[ServicePoint | None, StaffCode | None]:
    """The point a kiosk code names, and the staff code when it is a clerk's ((None, None): neither)."""
    code = (code or "")[:24].upper()
    point = db.session.scalar(sa.select(ServicePoint).where(ServicePoint.code == code))
    if point is not None:
        return point, None
    staff_code = db.session.scalar(sa.select(StaffCode).where(StaffCode.code == code))
    return (staff_code.service_point, staff_code) if staff_code is not None else (None, None)


def resolve_kiosk(code: str, sig: str) -> tuple[ServicePoint, StaffCode | None]:
    """The active point (and staff code) that a kiosk URL names, or NotFound for a forged, unknown, rotated or
    retired one."""
    point, staff_code = point_of_code(code)
    if point is None or (staff_code is not None and not staff_code.active) or not point.active \
            or not codes.signature_matches(point.qr_secret, (code or "")[:24].upper(), sig):
        raise NotFound()
    return point, staff_code


# -- intake -----------------------------------------------------------------------------------------------
@dataclass
class Submission:
    """What the customer (or staff, for them) said."""

    rating: int | None = None
    nps: int | None = None
    categories: list[str] = field(default_factory=list)
    comment: str = ""
    #: The kiosk's single contact field: a phone number or an email address.
    contact: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    consent: bool = False
    kind: str = RATING


@dataclass
class Intake:
    """Where a submission came from."""

    channel: str
    idempotency_key: str
    department_id: int | None = None
    point: ServicePoint | None = None
    staff_code: StaffCode | None = None
    actor: User | None = None
    api_token_id: int | None = None
    source_ip: str = ""
    rated_at: datetime | None = None
    #: Reasons found before the service ran (the honeypot, a stale form token).
    spam_reasons: tuple[str, ...] = ()
    fingerprint: str = ""
    max_comment: int = MAX_COMMENT
    #: Categories outside the point's list: refused (customers' forms, terminals) or kept (staff).
    free_categories: bool = False


@dataclass
class Received:
    feedback: Feedback
    query_code: str
    created: bool


class IdempotencyConflict(ServiceError):
    """The same idempotency key came with a different request."""


def new_request_key() -> str:
    return secrets.token_urlsafe(16)


def _clean_phone(value: str) -> str | None:
    digits = re.sub(r"[\s\-()（）]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE_RE.fullmatch(digits) or _LANDLINE_RE.fullmatch(digits):
        return digits
    return None


def _clean_submission(sub: Submission, intake: Intake) -> dict:
    errors: list[tuple[str | None, str]] = []
    kind = sub.kind if sub.kind in KINDS else None
    if kind is None:
        errors.append(("kind", _("Choose what kind of feedback this is.")))
    rating = sub.rating
    if rating is not None and rating not in RATING_LABELS:
        errors.append(("rating", _("Choose one of the five levels.")))
    if rating is None and kind == RATING:
        errors.append(("rating", _("Please choose how satisfied you are.")))
    if sub.nps is not None and not 0 <= sub.nps <= 10:
        errors.append(("nps", _("Choose a number from 0 to 10.")))
    comment = (sub.comment or "").replace("\r\n", "\n").strip()
    if len(comment) > intake.max_comment:
        errors.append(("comment", _("The comment is too long: at most %(n)d characters.", n=intake.max_comment)))
    allowed = intake.point.categories if intake.point is not None else []
    categories = list(dict.fromkeys(c.strip() for c in (sub.categories or []) if c and c.strip()))
    if len(categories) > MAX_CATEGORIES or any(len(c) > 20 for c in categories):
        errors.append(("categories", _("At most %(n)d categories, each at most 20 characters.", n=MAX_CATEGORIES)))
    elif not intake.free_categories:
        unknown = [c for c in categories if c not in allowed]
        if unknown:
            errors.append(("categories", _("Unknown category: %(names)s. Choose from: %(allowed)s.",
                                           names="、".join(unknown), allowed="、".join(allowed) or "—")))
    contact = {"contact_name": "", "contact_phone": "", "contact_email": "", "contact_consent_at": None,
               "contact_purpose": ""}
    phone_text = (sub.contact_phone or "").strip()
    email_text = (sub.contact_email or "").strip()
    single = (sub.contact or "").strip()
    if single:
        (email_text, phone_text) = (single, phone_text) if "@" in single else (email_text, single)
    if sub.consent and (phone_text or email_text):
        # Only with consent, and only what was asked for (个人信息保护法: the minimum, for a stated purpose).
        if phone_text:
            phone = _clean_phone(phone_text)
            if phone is None:
                errors.append(("contact_phone" if not single else "contact",
                               _("Enter a mobile number (11 digits) or a landline number with its area code.")))
            contact["contact_phone"] = phone or ""
        if email_text:
            try:
                contact["contact_email"] = clean_email(email_text[:254], "contact_email" if not single else "contact")
            except ServiceError as exc:
                errors += exc.errors
        contact["contact_name"] = (sub.contact_name or "").strip()[:50]
        contact["contact_consent_at"] = utcnow()
        contact["contact_purpose"] = consent_purpose()[:300]
    elif (phone_text or email_text) and intake.actor is not None:
        # Staff typed a contact without recording consent: say so rather than silently dropping it.
        errors.append(("consent", _("Tick the consent box, or leave the contact details empty: contact details are "
                                    "kept only when the customer agreed.")))
    if errors:
        raise ServiceError(*errors)
    return {"kind": kind, "rating": rating, "nps": sub.nps, "comment": comment, "categories": categories, **contact}


def _spam_reasons(values: dict, intake: Intake, source: str) -> list[str]:
    reasons = list(intake.spam_reasons)
    comment = values["comment"]
    if len(_LINK_RE.findall(comment)) >= 2:
        reasons.append(SPAM_LINKS)
    if intake.point is not None and len(comment) >= 5 and source:
        since = utcnow() - timedelta(minutes=10)
        repeat = db.session.scalar(sa.select(Feedback.id).where(
            Feedback.service_point_id == intake.point.id, Feedback.created_at >= since,
            Feedback.source_hash == source, Feedback.comment == comment).limit(1))
        if repeat is not None:
            reasons.append(SPAM_REPEAT)
    return list(dict.fromkeys(reasons))


def _existing(key: str) -> Feedback | None:
    return db.session.scalar(sa.select(Feedback).where(Feedback.idempotency_key == key))


def _replay(existing: Feedback, intake: Intake) -> Received:
    if intake.fingerprint and existing.request_fingerprint and existing.request_fingerprint != intake.fingerprint:
        raise IdempotencyConflict((None, _("This Idempotency-Key was already used for a different request.")))
    return Received(existing, codes.unseal_query_code(existing.query_code_sealed), False)


def _insert_new(values: dict) -> Feedback | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the new row, or None when a unique key (the idempotency key,
    or a colliding 查询码 digest) is already taken. One round trip, and no savepoint: a concurrent request with
    the same key waits for the first to commit and then finds the key taken."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The values go as parameters, not into the statement: the compiled INSERT is cached and reused.
    return db.session.scalars(insert(Feedback).on_conflict_do_nothing().returning(Feedback), values).first()


def receive(sub: Submission, intake: Intake) -> Received:
    """Store one submission (see the module's docstring). Idempotent on ``intake.idempotency_key``."""
    key = (intake.idempotency_key or "")[:120]
    if not key:
        raise ValueError("an intake needs an idempotency key")
    if intake.channel not in CHANNELS:
        raise ValueError(f"unknown channel {intake.channel!r}")
    values = _clean_submission(sub, intake)
    department_id = intake.point.department_id if intake.point is not None else intake.department_id
    if department_id is None:
        raise ServiceError(("department_id", _("Choose the department concerned.")))
    source = codes.source_hash(intake.source_ip) if intake.source_ip else ""
    reasons = _spam_reasons(values, intake, source)
    now = utcnow()
    rated_at = intake.rated_at if intake.rated_at is not None and intake.rated_at <= now else now
    values.update(
        channel=intake.channel, service_point_id=intake.point.id if intake.point is not None else None,
        department_id=department_id,
        staff_code_id=intake.staff_code.id if intake.staff_code is not None else None,
        staff_user_id=intake.staff_code.user_id if intake.staff_code is not None else None,
        idempotency_key=key, request_fingerprint=intake.fingerprint, is_spam=bool(reasons),
        spam_reasons=",".join(reasons), source_hash=source, created_by_id=getattr(intake.actor, "id", None),
        api_token_id=intake.api_token_id, rated_at=rated_at, created_at=now)
    for _attempt in range(3):
        code = codes.new_query_code()
        feedback = _insert_new(values | {"query_code_digest": codes.query_code_digest(code),
                                         "query_code_sealed": codes.seal_query_code(code)})
        if feedback is not None:
            break
        existing = _existing(key)
        if existing is not None:  # sent before (a double tap, a retry, a replayed token), or a moment ago by a twin
            return _replay(existing, intake)
        # otherwise the 查询码 collided (about one in 10¹² per pair): draw another
    else:
        raise RuntimeError("could not store feedback after three attempts")
    _after_intake(feedback, intake)
    return Received(feedback, code, True)


def _after_intake(feedback: Feedback, intake: Intake) -> None:
    after = {"channel": feedback.channel, "kind": feedback.kind, "rating": feedback.rating,
             "service_point_id": feedback.service_point_id, "department_id": feedback.department_id,
             "spam": feedback.is_spam}
    if intake.actor is not None or current_app.config["PORTAL_AUDIT_CUSTOMER_INTAKE"]:
        # A customer's or a terminal's submission is the feedback row itself, written once and never changed;
        # what people do with it afterwards is audited. Writing an event for each one as well would pass every
        # rating through the audit chain's lock (README: Performance); PORTAL_AUDIT_CUSTOMER_INTAKE turns it on.
        extra = {"api_token_id": intake.api_token_id} if intake.api_token_id else None
        record("feedback.receive", feedback, actor=intake.actor, after=after, extra=extra,
               ip=None if intake.actor is not None else "")  # a customer's address is not kept
    if not feedback.is_spam:
        _notify_department(feedback)
    signals.feedback_received.send(feedback, service_point=intake.point, actor=intake.actor)


def _where(feedback: Feedback) -> str:
    point = feedback.service_point
    return point.label if point is not None else (feedback.department.name if feedback.department else "")


def _notify_department(feedback: Feedback, now: datetime | None = None) -> None:
    """The head of the department hears at once of a 差评 and of a complaint (in-app, email by preference, the
    department's group-chat robots); everything else waits for the queue and the digest. ``now``: when the
    notification is dated (the demo seeder dates its few at the time of their feedback)."""
    from portal.notify.services import notify_many

    negative = feedback.rating is not None and feedback.rating <= NEGATIVE_MAX
    if not negative and feedback.kind != COMPLAINT:
        return
    department = feedback.department or db.session.get(Department, feedback.department_id)
    recipients = [department.head] if department is not None and department.head is not None else []
    if not recipients:
        from portal.core.roles import QUALITY_MANAGER

        recipients = list(db.session.scalars(sa.select(User).where(
            User.active.is_(True), User.role_rows.any(UserRole.role == QUALITY_MANAGER))))
    if negative:
        kind = KIND_NEGATIVE
        title = _("Negative rating at %(where)s: %(rating)s", where=_where(feedback),
                  rating=str(RATING_LABELS[feedback.rating]))
    else:
        kind = KIND_COMPLAINT
        title = _("Complaint about %(where)s", where=_where(feedback))
    notify_many(recipients, kind, title, feedback.comment[:300], feedback_path(feedback.id),
                department_id=feedback.department_id, dedupe_key=f"feedback:{feedback.id}:{kind}", webhook=True,
                now=now)


def feedback_path(feedback_id: int) -> str:
    return f"/feedback/{feedback_id}"


# -- the customer's 查询码 page ---------------------------------------------------------------------------
def find_by_query_code(text: str) -> Feedback | None:
    code = codes.normalize_query_code(text)
    if code is None:
        return None
    return db.session.scalar(sa.select(Feedback).where(Feedback.query_code_digest == codes.query_code_digest(code)))


def rate_resolution(feedback: Feedback, rating: int | None) -> Feedback:
    """The customer rates how their feedback was resolved (once; only after it was resolved)."""
    if feedback.resolved_at is None:
        raise ServiceError((None, _("You can rate the handling once your feedback has been resolved.")))
    if rating not in RATING_LABELS:
        raise ServiceError(("rating", _("Please choose how satisfied you are.")))
    if feedback.resolution_rating is not None:
        return feedback  # a second tap, or a retried request: the first rating stands
    feedback.resolution_rating = rating
    feedback.resolution_rated_at = utcnow()
    db.session.flush()
    record("feedback.resolution_rate", feedback, actor=None, after={"resolution_rating": rating}, ip="")
    signals.resolution_rated.send(feedback, rating=rating)
    return feedback


MAX_REPLY = 5000


def set_reply(feedback: Feedback, text: str, actor: User) -> Feedback:
    """The department's reply to the customer, shown on the 查询码 page (the triage queue checks who may reply)."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ServiceError(("text", _("Write the reply.")))
    if len(text) > MAX_REPLY:
        raise ServiceError(("text", _("At most %(n)d characters.", n=MAX_REPLY)))
    before = {"reply": feedback.reply, "status": feedback.status}
    feedback.reply, feedback.replied_at = text, utcnow()
    if feedback.status != RESOLVED:
        feedback.status = REPLIED
    db.session.flush()
    record("feedback.reply", feedback, actor=actor, before=before, after={"reply": text, "status": feedback.status})
    return feedback


def set_resolved(feedback: Feedback, resolved: bool, actor: User | None) -> Feedback:
    """Resolved (the customer may now rate the handling) or reopened (a poor rating, or staff reopening it: the
    earlier rating is kept in the audit trail and a new one may be given once it is resolved again)."""
    if resolved == (feedback.resolved_at is not None):
        return feedback
    before = {"status": feedback.status, "resolution_rating": feedback.resolution_rating}
    if resolved:
        feedback.resolved_at, feedback.status = utcnow(), RESOLVED
        feedback.resolution_rating = feedback.resolution_rated_at = None
    else:
        feedback.resolved_at, feedback.status = None, (REPLIED if feedback.reply else FEEDBACK_NEW)
    db.session.flush()
    record("feedback.resolve" if resolved else "feedback.reopen", feedback, actor=actor, before=before,
           after={"status": feedback.status}, ip=None if actor is not None else "")
    return feedback


# -- staff-entered feedback (多渠道投诉登记) --------------------------------------------------------------
@dataclass
class StaffEntry:
    channel: str
    kind: str
    department_id: int | None
    service_point_id: int | None
    rating: int | None
    comment: str
    contact_name: str
    contact_phone: str
    contact_email: str
    consent: bool
    request_key: str


def record_staff_entry(actor: User, entry: StaffEntry) -> Received:
    """A complaint, praise or suggestion received by phone, letter, email, the 12345 hotline, social media or
    in person, entered by any employee; it joins the stream like a customer's own."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied()
    errors = []
    if entry.channel not in STAFF_CHANNELS:
        errors.append(("channel", _("Choose how the customer contacted us.")))
    if entry.kind not in STAFF_KINDS:
        errors.append(("kind", _("Choose complaint, praise or suggestion.")))
    if not (entry.comment or "").strip():
        errors.append(("comment", _("Write down what the customer said.")))
    point = db.session.get(ServicePoint, entry.service_point_id) if entry.service_point_id else None
    if entry.service_point_id and point is None:
        errors.append(("service_point_id", _("Choose a service point from the list.")))
    department_id = point.department_id if point is not None else entry.department_id
    department = db.session.get(Department, department_id) if department_id else None
    if department is None or not department.active:
        errors.append(("department_id", _("Choose the department concerned (or a service point).")))
    if errors:
        raise ServiceError(*errors)
    sub = Submission(rating=entry.rating, comment=entry.comment, contact_name=entry.contact_name,
                     contact_phone=entry.contact_phone, contact_email=entry.contact_email, consent=entry.consent,
                     kind=entry.kind)
    intake = Intake(channel=entry.channel, idempotency_key="staff:" + ((entry.request_key or "")[:64] or new_request_key()),
                    department_id=department.id, point=point, actor=actor, max_comment=MAX_STAFF_COMMENT,
                    free_categories=True)
    return receive(sub, intake)


# -- what staff read --------------------------------------------------------------------------------------
PAGE_SIZE = 30


@dataclass
class FeedbackFilters:
    department_id: int | None = None
    service_point_id: int | None = None
    channel: str = ""
    kind: str = ""
    rating: str = ""          # "" | negative | neutral | positive | none
    spam: str = ""            # "" (hide) | only | all
    date_from: datetime | None = None
    date_to: datetime | None = None
    before: int | None = None  # keyset: ids below this one


@dataclass
class FeedbackPage:
    items: list[Feedback]
    next_before: int | None


def _scoped(actor: User, stmt):
    visible = access.visible_department_ids(actor)
    if visible is None:
        return stmt
    return stmt.where(sa.or_(Feedback.department_id.in_(visible or {-1}), Feedback.created_by_id == actor.id))


def list_feedback(actor: User, filters: FeedbackFilters, page_size: int = PAGE_SIZE) -> FeedbackPage:
    """The feedback ``actor`` may see, newest first, a page at a time (keyset: ``before`` the last id shown)."""
    stmt = _scoped(actor, sa.select(Feedback))
    if filters.department_id:
        stmt = stmt.where(Feedback.department_id == filters.department_id)
    if filters.service_point_id:
        stmt = stmt.where(Feedback.service_point_id == filters.service_point_id)
    if filters.channel in CHANNELS:
        stmt = stmt.where(Feedback.channel == filters.channel)
    if filters.kind in KINDS:
        stmt = stmt.where(Feedback.kind == filters.kind)
    if filters.rating == "negative":
        stmt = stmt.where(Feedback.rating <= NEGATIVE_MAX)
    elif filters.rating == "neutral":
        stmt = stmt.where(Feedback.rating == 3)
    elif filters.rating == "positive":
        stmt = stmt.where(Feedback.rating >= 4)
    elif filters.rating == "none":
        stmt = stmt.where(Feedback.rating.is_(None))
    if filters.spam == "only":
        stmt = stmt.where(Feedback.is_spam.is_(True))
    elif filters.spam != "all":
        stmt = stmt.where(Feedback.is_spam.is_(False))
    if filters.date_from is not None:
        stmt = stmt.where(Feedback.created_at >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(Feedback.created_at < filters.date_to)
    if filters.before:
        stmt = stmt.where(Feedback.id < filters.before)
    rows = list(db.session.scalars(stmt.options(selectinload(Feedback.service_point),
                                                selectinload(Feedback.department), selectinload(Feedback.staff_user))
                                   .order_by(Feedback.id.desc()).limit(page_size + 1)))
    more = len(rows) > page_size
    rows = rows[:page_size]
    return FeedbackPage(rows, rows[-1].id if more and rows else None)


def get_feedback(actor: User, feedback_id: int) -> Feedback:
    feedback = db.session.get(Feedback, feedback_id)
    if feedback is None or not access.may_view(actor, feedback):
        raise NotFound()  # another department's feedback does not exist for this reader
    return feedback


def set_spam(actor: User, feedback: Feedback, spam: bool) -> Feedback:
    if not access.may_moderate(actor, feedback):
        raise PermissionDenied()
    if feedback.is_spam != spam:
        before = {"spam": feedback.is_spam, "spam_reasons": feedback.spam_reasons}
        feedback.is_spam = spam
        feedback.spam_reasons = (feedback.spam_reasons or "manual") if spam else feedback.spam_reasons
        db.session.flush()
        record("feedback.spam" if spam else "feedback.not_spam", feedback, actor=actor, before=before,
               after={"spam": spam, "spam_reasons": feedback.spam_reasons})
    return feedback


def query_code_for(actor: User, feedback: Feedback) -> str:
    """The 查询码, for those who may give it to the customer again; "" for anyone else."""
    if not access.may_see_query_code(actor, feedback):
        return ""
    return codes.unseal_query_code(feedback.query_code_sealed)


def reissue_query_code(actor: User, feedback: Feedback) -> str:
    """A new 查询码 (the old one stops working): for a customer who lost theirs, or one that was overheard."""
    if not access.may_moderate(actor, feedback):
        raise PermissionDenied()
    for _attempt in range(3):
        code = codes.new_query_code()
        digest = codes.query_code_digest(code)
        if db.session.scalar(sa.select(Feedback.id).where(Feedback.query_code_digest == digest)) is None:
            break
    feedback.query_code_digest, feedback.query_code_sealed = digest, codes.seal_query_code(code)
    db.session.flush()
    record("feedback.query_code_reissue", feedback, actor=actor)
    return code


def department_choices(actor: User) -> list[tuple[int, str]]:
    visible = access.visible_department_ids(actor)
    stmt = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.name)
    if visible is not None:
        stmt = stmt.where(Department.id.in_(visible or {-1}))
    return [(d.id, d.name) for d in db.session.scalars(stmt)]


def all_department_choices() -> list[tuple[int, str]]:
    stmt = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.name)
    return [(d.id, d.name) for d in db.session.scalars(stmt)]


def labels() -> dict:
    """The words of a feedback row's channel, kind and rating, for pages of other domains (the triage queue)."""
    from portal.feedback.models import CHANNEL_LABELS, KIND_LABELS

    return {"channel": CHANNEL_LABELS, "kind": KIND_LABELS, "rating": RATING_LABELS}


def point_choices() -> list[tuple[int, str]]:
    """(id, label) of the active points, in code order: one query of three columns (no point objects, no
    departments loaded with them)."""
    rows = db.session.execute(sa.select(ServicePoint.id, ServicePoint.code, ServicePoint.name)
                              .where(ServicePoint.active.is_(True)).order_by(ServicePoint.code))
    return [(row.id, f"{row.code} {row.name}") for row in rows]


# -- the daily digest -------------------------------------------------------------------------------------
def day_summary(users: list[User], day) -> dict[int, list[tuple[str, int, int, float | None]]]:
    """{user id: [(department name, items, 差评, mean rating)]} of the day before ``day`` (Asia/Shanghai), for
    department heads (their departments) and quality managers (every department). Two queries per batch."""
    from datetime import time as dtime

    from portal.core.i18n import portal_tz
    from portal.core.roles import QUALITY_MANAGER

    tz = portal_tz()
    start = datetime.combine(day - timedelta(days=1), dtime(), tz)
    end = datetime.combine(day, dtime(), tz)
    rows = db.session.execute(
        sa.select(Feedback.department_id, Department.name, sa.func.count(Feedback.id),
                  sa.func.count(Feedback.id).filter(Feedback.rating <= NEGATIVE_MAX), sa.func.avg(Feedback.rating))
        .join(Department, Department.id == Feedback.department_id)
        .where(Feedback.created_at >= start, Feedback.created_at < end, Feedback.is_spam.is_(False))
        .group_by(Feedback.department_id, Department.name).order_by(Department.name)).all()
    if not rows:
        return {}
    ids = [u.id for u in users]
    heads: dict[int, set[int]] = {}
    for dept_id, head_id in db.session.execute(sa.select(Department.id, Department.head_id)
                                               .where(Department.head_id.in_(ids))):
        heads.setdefault(head_id, set()).add(dept_id)
    out: dict[int, list] = {}
    for user in users:
        wanted = None if user.has_role(QUALITY_MANAGER) else heads.get(user.id)
        if wanted is None and not user.has_role(QUALITY_MANAGER):
            continue
        lines = [(name, total, negative, float(mean) if mean is not None else None)
                 for dept_id, name, total, negative, mean in rows if wanted is None or dept_id in wanted]
        if lines:
            out[user.id] = lines
    return out


# -- satisfaction, for other domains' checks ---------------------------------------------------------
#: Ratings counted as satisfied in CSAT (满意 and 非常满意).
SATISFIED_MIN = 4


def _rated_in(start: datetime, end: datetime, exclude_ids) -> list:
    """The ratings CSAT counts: given in [start, end), not spam, not in ``exclude_ids``."""
    conditions = [Feedback.rating.is_not(None), Feedback.is_spam.is_(False), Feedback.rated_at >= start,
                  Feedback.rated_at < end]
    excluded = sorted(set(exclude_ids))
    if excluded:
        conditions.append(Feedback.id.not_in(excluded))
    return conditions


def satisfaction(start: datetime, end: datetime, *, point_ids: list[int] | None = None,
                 department_id: int | None = None, exclude_ids=()) -> tuple[float | None, int]:
    """CSAT of the ratings given in [start, end): (the share of ratings of 4 or 5 in per cent, or None without
    ratings; how many ratings), of the given points or of a department's; spam and ``exclude_ids`` left out."""
    query = sa.select(sa.func.count(), sa.func.count().filter(Feedback.rating >= SATISFIED_MIN)).where(
        *_rated_in(start, end, exclude_ids))
    if point_ids is not None:
        query = query.where(Feedback.service_point_id.in_(point_ids or [-1]))
    if department_id is not None:
        query = query.where(Feedback.department_id == department_id)
    total, satisfied = db.session.execute(query).one()
    return (round(satisfied * 100.0 / total, 1) if total else None), total


@dataclass(frozen=True)
class RatingCounts:
    """One group's ratings as ``satisfaction`` counts them: how many, how many of 4–5, how many 差评 (1–2)."""

    key: tuple
    ratings: int
    satisfied: int
    negative: int


RATINGS_BY_POINT, RATINGS_BY_STAFF = "point", "staff"


def rating_counts(start: datetime, end: datetime, *, by: str = RATINGS_BY_POINT,
                  exclude_ids=()) -> list[RatingCounts]:
    """``satisfaction``'s counts for every group at once (one GROUP BY query, for rankings): by point the key is
    (department id, service point id or None) — the queue's department at intake —, by staff (staff_user_id,)
    of the ratings given through a clerk's code."""
    keys = ((Feedback.department_id, Feedback.service_point_id) if by == RATINGS_BY_POINT
            else (Feedback.staff_user_id,))
    query = (sa.select(*keys, sa.func.count(), sa.func.count().filter(Feedback.rating >= SATISFIED_MIN),
                       sa.func.count().filter(Feedback.rating <= NEGATIVE_MAX))
             .where(*_rated_in(start, end, exclude_ids)).group_by(*keys))
    if by != RATINGS_BY_POINT:
        query = query.where(Feedback.staff_user_id.is_not(None))
    width = len(keys)
    return [RatingCounts(tuple(row[:width]), *(int(n) for n in row[width:])) for row in db.session.execute(query)]


@dataclass(frozen=True)
class PointLine:
    id: int
    label: str
    department_id: int
    active: bool


def every_point_line() -> list[PointLine]:
    """Every service point, active or not, as (id, label, department, active): one query, for rankings."""
    return [PointLine(p.id, p.label, p.department_id, p.active)
            for p in db.session.scalars(sa.select(ServicePoint).order_by(ServicePoint.code))]


def every_feedback() -> list[Feedback]:
    """Every feedback row, oldest first (the demo queues open a ticket for each)."""
    return list(db.session.scalars(sa.select(Feedback).order_by(Feedback.id)))
