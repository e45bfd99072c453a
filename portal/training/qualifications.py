"""上岗资格: qualification types, the positions that require them, people's certificates, the position × person
view of a department, the reminders before a certificate expires, the coverage KPI and the heads' to-dos.

**Who may do what**

* qualification types and which positions require them: managers (administrators, quality managers);
* a person's certificates: entered, edited and withdrawn by managers and the head of the person's
  department; seen by those and by the person; the scan is downloaded by the same people only;
* a department's position × person view: its head and the managers (checked here, not only in the pages).

**Statuses** of a person's (person, type) pair on a day, from their certificates that are not withdrawn:
``valid``; ``expiring`` (valid, but expiring within ``EXPIRING_DAYS``); ``expired`` (only expired ones);
``missing`` (none, or only one issued after that day). Someone with a required type missing or expired
must not work in the position today (今天不得上岗).

Functions take the acting user, check what the actor may do, flush but never commit, and write an audit
event for each state change.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from portal.audit.services import record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.notify.services import already_notified, notify
from portal.org.models import Department, Position, User
from portal.sop import content
from portal.sop.services import add_months
from portal.training.models import Certificate, QualificationType, position_qualification
from portal.training.services import headed_department_ids, is_manager, may_oversee
from portal.workcal.services import is_workday, local_today

KIND_EXPIRY = "qualification.expiry"
METRIC_KEY = "training.qualification_coverage"
DEPARTMENT_METRIC_KEY = "training.qualification_coverage_department"
BASE_PATH = "/training/qualifications"
#: A valid certificate expiring within this many days is "expiring" (the view, the reminders).
EXPIRING_DAYS = 60
#: The reminder steps, in days before the expiry date.
REMINDER_STEPS = (60, 30)
#: Heads' to-dos: certificates expiring within this many days (and expired ones).
TODO_DAYS = 30
NAME_MAX, DESCRIPTION_MAX, NUMBER_MAX, ISSUER_MAX, REASON_MAX = 100, 500, 100, 200, 500
VALIDITY_MAX = 240
SCAN_MAX_MB = 10

VALID, EXPIRING, EXPIRED, MISSING = "valid", "expiring", "expired", "missing"
STATUS_LABELS = {
    VALID: lazy_pgettext("qualification status", "Valid"),
    EXPIRING: lazy_pgettext("qualification status", "Expiring soon"),
    EXPIRED: lazy_pgettext("qualification status", "Expired"),
    MISSING: lazy_pgettext("qualification status", "Missing"),
}
STATUS_BADGES = {VALID: "text-bg-success", EXPIRING: "text-bg-warning", EXPIRED: "text-bg-danger",
                 MISSING: "text-bg-danger"}
BLOCKING = (EXPIRED, MISSING)


def person_path(user_id: int) -> str:
    return f"{BASE_PATH}/people/{user_id}"


def scan_dir() -> str:
    return os.path.join(current_app.instance_path, "qualifications")


def max_scan_bytes() -> int:
    return int(current_app.config.get("PORTAL_QUALIFICATION_MAX_SCAN_MB", SCAN_MAX_MB)) * 1024 * 1024


# -- who may do what ------------------------------------------------------------------------------
def may_manage_types(user) -> bool:
    return is_manager(user)


def may_edit_certificates_of(actor, person: User) -> bool:
    """Managers and the head of the person's department."""
    return may_oversee(actor, person.department_id)


def may_see_person(actor, person: User) -> bool:
    return (actor is not None and getattr(actor, "is_authenticated", False) and actor.active
            and (actor.id == person.id or may_edit_certificates_of(actor, person)))


def overseen_departments(actor) -> list[Department]:
    """The departments whose qualifications the actor looks after: all active ones for managers, the ones
    they head otherwise."""
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    if not is_manager(actor):
        query = query.where(Department.id.in_(headed_department_ids(actor) or [-1]))
    return list(db.session.scalars(query))


# -- qualification types --------------------------------------------------------------------------
@dataclass
class TypeFields:
    name: str
    validity_months: int | None
    description: str = ""
    position_ids: list[int] = field(default_factory=list)


def list_types(*, include_inactive: bool = True) -> list[QualificationType]:
    query = sa.select(QualificationType).options(selectinload(QualificationType.positions))
    if not include_inactive:
        query = query.where(QualificationType.active.is_(True))
    return list(db.session.scalars(query.order_by(QualificationType.active.desc(), QualificationType.name)))


def get_type(actor, type_id: int) -> QualificationType:
    if not may_manage_types(actor):
        raise PermissionDenied()
    qualification_type = db.session.get(QualificationType, type_id)
    if qualification_type is None:
        raise NotFound()
    return qualification_type


def _type_snapshot(qualification_type: QualificationType) -> dict:
    return {"name": qualification_type.name, "validity_months": qualification_type.validity_months,
            "description": qualification_type.description,
            "positions": sorted(p.id for p in qualification_type.positions)}


def _check_type_fields(fields: TypeFields, existing: QualificationType | None) -> tuple[str, list[Position]]:
    name = (fields.name or "").strip()
    errors = []
    if not name:
        errors.append(("name", _("Enter a name.")))
    elif len(name) > NAME_MAX:
        errors.append(("name", _("At most %(n)d characters.", n=NAME_MAX)))
    else:
        clash = db.session.scalar(sa.select(QualificationType.id).where(QualificationType.name == name))
        if clash is not None and (existing is None or clash != existing.id):
            errors.append(("name", _("A qualification type with this name exists already.")))
    if fields.validity_months is not None and not 1 <= fields.validity_months <= VALIDITY_MAX:
        errors.append(("validity_months", _("Enter a number of months between 1 and %(n)d, or leave it empty "
                                            "for a certificate that never expires.", n=VALIDITY_MAX)))
    if len(fields.description or "") > DESCRIPTION_MAX:
        errors.append(("description", _("At most %(n)d characters.", n=DESCRIPTION_MAX)))
    wanted = sorted(set(fields.position_ids or []))
    positions = list(db.session.scalars(sa.select(Position).where(Position.id.in_(wanted or [-1]))))
    if len(positions) != len(wanted):
        errors.append(("position_ids", _("Choose positions from the list.")))
    if errors:
        raise ServiceError(*errors)
    return name, positions


def create_type(actor, fields: TypeFields) -> QualificationType:
    if not may_manage_types(actor):
        raise PermissionDenied()
    name, positions = _check_type_fields(fields, None)
    qualification_type = QualificationType(name=name, validity_months=fields.validity_months,
                                           description=(fields.description or "").strip(), positions=positions)
    try:
        with db.session.begin_nested():
            db.session.add(qualification_type)
            db.session.flush()
    except IntegrityError:
        raise Conflict(("name", _("A qualification type with this name exists already.")))
    record("qualification.type_create", qualification_type, actor=actor, after=_type_snapshot(qualification_type))
    return qualification_type


def update_type(actor, qualification_type: QualificationType, fields: TypeFields) -> QualificationType:
    if not may_manage_types(actor):
        raise PermissionDenied()
    name, positions = _check_type_fields(fields, qualification_type)
    before = _type_snapshot(qualification_type)
    qualification_type.name, qualification_type.validity_months = name, fields.validity_months
    qualification_type.description = (fields.description or "").strip()
    qualification_type.positions = positions
    db.session.flush()
    after = _type_snapshot(qualification_type)
    if after != before:
        record("qualification.type_update", qualification_type, actor=actor, before=before, after=after)
    return qualification_type


def set_type_active(actor, qualification_type: QualificationType, active: bool) -> QualificationType:
    """A deactivated type is required of nobody and offered for no new certificate; its certificates stay."""
    if not may_manage_types(actor):
        raise PermissionDenied()
    if qualification_type.active != active:
        qualification_type.active = active
        db.session.flush()
        record("qualification.type_active", qualification_type, actor=actor, before={"active": not active},
               after={"active": active})
    return qualification_type


# -- scans ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanInfo:
    mime_type: str
    sha256: str
    display_name: str


def check_scan(filename: str, data: bytes) -> ScanInfo:
    """A certificate's scan, typed by its content (``content.check_scan``: a PDF, or a JPEG or PNG picture that
    Pillow reads); ServiceError on "scan" for anything else, an empty file or one that is too large."""
    info = content.check_scan(filename, data, max_scan_bytes(), field="scan")
    return ScanInfo(info.mime_type, info.sha256, info.display_name)


def _store_scan(certificate: Certificate, upload: tuple[str, bytes]) -> None:
    filename, data = upload
    info = check_scan(filename, data)
    certificate.scan_name = content.store_file(data, scan_dir())
    certificate.scan_display_name = info.display_name[:200]
    certificate.scan_mime_type = info.mime_type
    certificate.scan_sha256 = info.sha256


# -- certificates ---------------------------------------------------------------------------------
@dataclass
class CertificateFields:
    type_id: int | None
    number: str
    issuer: str
    issued_on: date | None
    expires_on: date | None = None


def get_person(actor, user_id: int) -> User:
    """A person whose qualifications the actor may see (themselves, or as head or manager); else 404."""
    person = db.session.get(User, user_id)
    if person is None or not may_see_person(actor, person):
        raise NotFound()
    return person


def get_certificate(actor, certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or not may_see_person(actor, certificate.user):
        raise NotFound()
    return certificate


def type_choices() -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in list_types(include_inactive=False)]


def _certificate_snapshot(certificate: Certificate) -> dict:
    return {"user_id": certificate.user_id, "type_id": certificate.type_id, "number": certificate.number,
            "issuer": certificate.issuer, "issued_on": certificate.issued_on.isoformat(),
            "expires_on": certificate.expires_on.isoformat() if certificate.expires_on else None,
            "scan_sha256": certificate.scan_sha256 or None}


def _check_certificate_fields(fields: CertificateFields, existing: Certificate | None,
                              today: date) -> tuple[QualificationType, str, str, date, date | None]:
    errors = []
    qualification_type = db.session.get(QualificationType, fields.type_id) if fields.type_id else None
    if qualification_type is None or (not qualification_type.active
                                      and (existing is None or existing.type_id != qualification_type.id)):
        errors.append(("type_id", _("Choose a qualification type.")))
    number, issuer = (fields.number or "").strip(), (fields.issuer or "").strip()
    if not number:
        errors.append(("number", _("Enter the certificate number.")))
    elif len(number) > NUMBER_MAX:
        errors.append(("number", _("At most %(n)d characters.", n=NUMBER_MAX)))
    elif qualification_type is not None:
        clash = db.session.scalar(sa.select(Certificate.id).where(Certificate.type_id == qualification_type.id,
                                                                  Certificate.number == number))
        if clash is not None and (existing is None or clash != existing.id):
            errors.append(("number", _("A certificate of this type with this number is already recorded.")))
    if len(issuer) > ISSUER_MAX:
        errors.append(("issuer", _("At most %(n)d characters.", n=ISSUER_MAX)))
    issued_on, expires_on = fields.issued_on, fields.expires_on
    if issued_on is None:
        errors.append(("issued_on", _("Enter the date of issue.")))
    elif issued_on > today:
        errors.append(("issued_on", _("The date of issue cannot be in the future.")))
    elif expires_on is None and qualification_type is not None and qualification_type.validity_months:
        expires_on = add_months(issued_on, qualification_type.validity_months)
    if issued_on is not None and expires_on is not None and expires_on < issued_on:
        errors.append(("expires_on", _("The expiry date cannot be before the date of issue.")))
    if errors:
        raise ServiceError(*errors)
    return qualification_type, number, issuer, issued_on, expires_on


def _certificate_with_key(key: str | None) -> Certificate | None:
    if not key:
        return None
    return db.session.scalar(sa.select(Certificate).where(Certificate.request_key == key))


def add_certificate(actor, user_id: int, fields: CertificateFields, *, upload: tuple[str, bytes] | None = None,
                    request_key: str = "", today: date | None = None) -> Certificate:
    """Record a person's certificate. The expiry date defaults to the date of issue plus the type's validity
    (none for a type that never expires). A repeated request with the same ``request_key`` (a double click)
    returns the certificate the first one recorded."""
    person = get_person(actor, user_id)
    if not may_edit_certificates_of(actor, person):
        raise PermissionDenied()
    key = (request_key or "")[:64] or None
    if (existing := _certificate_with_key(key)) is not None:
        return existing
    qualification_type, number, issuer, issued_on, expires_on = _check_certificate_fields(
        fields, None, today or local_today())
    certificate = Certificate(user_id=person.id, type_id=qualification_type.id, number=number, issuer=issuer,
                              issued_on=issued_on, expires_on=expires_on, created_by_id=actor.id, request_key=key)
    if upload is not None:
        _store_scan(certificate, upload)
    try:
        with db.session.begin_nested():
            db.session.add(certificate)
            db.session.flush()
    except IntegrityError:
        if (existing := _certificate_with_key(key)) is not None:
            return existing
        raise Conflict(("number", _("Someone recorded this certificate number at the same moment.")))
    record("qualification.certificate_add", certificate, actor=actor, after=_certificate_snapshot(certificate))
    return certificate


def update_certificate(actor, certificate: Certificate, fields: CertificateFields, *,
                       upload: tuple[str, bytes] | None = None, today: date | None = None) -> Certificate:
    if not may_edit_certificates_of(actor, certificate.user):
        raise PermissionDenied()
    if certificate.revoked_at is not None:
        raise ServiceError((None, _("This certificate was withdrawn: it can no longer change.")))
    qualification_type, number, issuer, issued_on, expires_on = _check_certificate_fields(
        fields, certificate, today or local_today())
    before = _certificate_snapshot(certificate)
    certificate.type_id, certificate.number, certificate.issuer = qualification_type.id, number, issuer
    certificate.issued_on, certificate.expires_on = issued_on, expires_on
    if upload is not None:
        _store_scan(certificate, upload)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(("number", _("Someone recorded this certificate number at the same moment.")))
    db.session.refresh(certificate)
    after = _certificate_snapshot(certificate)
    if after != before:
        record("qualification.certificate_update", certificate, actor=actor, before=before, after=after)
    return certificate


def revoke_certificate(actor, certificate: Certificate, reason: str) -> Certificate:
    """Withdraw a certificate (entered by mistake, revoked by its issuer), with the reason. It stays on record."""
    if not may_edit_certificates_of(actor, certificate.user):
        raise PermissionDenied()
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(("reason", _("Give the reason for withdrawing the certificate.")))
    if len(reason) > REASON_MAX:
        raise ServiceError(("reason", _("At most %(n)d characters.", n=REASON_MAX)))
    now = utcnow()
    changed = db.session.execute(
        sa.update(Certificate).where(Certificate.id == certificate.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason), execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(certificate)
    if not changed:
        raise ServiceError((None, _("This certificate was already withdrawn.")))
    record("qualification.certificate_revoke", certificate, actor=actor, before={"revoked": False},
           after={"revoked": True}, extra={"reason": reason, "user_id": certificate.user_id})
    return certificate


def scan_of(actor, certificate_id: int) -> tuple[Certificate, bytes]:
    """A certificate's scan, for those who may see the certificate; 404 when there is none."""
    certificate = get_certificate(actor, certificate_id)
    if not certificate.scan_name:
        raise NotFound()
    try:
        return certificate, content.read_file(scan_dir(), certificate.scan_name)
    except (OSError, ValueError):
        raise NotFound()


# -- statuses -------------------------------------------------------------------------------------
@dataclass
class Cell:
    status: str
    required: bool
    certificate: Certificate | None = None

    @property
    def label(self):
        return STATUS_LABELS[self.status]

    @property
    def badge(self) -> str:
        return STATUS_BADGES[self.status]

    @property
    def blocking(self) -> bool:
        return self.required and self.status in BLOCKING


def _sort_key(certificate: Certificate):
    return (certificate.expires_on is None, certificate.expires_on or date.min, certificate.issued_on, certificate.id)


def cell_for(certificates: list[Certificate], day: date, *, required: bool) -> Cell:
    """The status of one (person, type) pair on ``day`` from its certificates (withdrawn ones ignored)."""
    standing = [c for c in certificates if c.revoked_at is None]
    valid = [c for c in standing if c.is_valid_on(day)]
    if valid:
        best = max(valid, key=_sort_key)
        expiring = best.expires_on is not None and (best.expires_on - day).days <= EXPIRING_DAYS
        return Cell(EXPIRING if expiring else VALID, required, best)
    expired = [c for c in standing if c.expires_on is not None and c.expires_on < day]
    if expired:
        return Cell(EXPIRED, required, max(expired, key=_sort_key))
    return Cell(MISSING, required)


def _required_types_by_position(position_ids) -> dict[int, set[int]]:
    """position id → the ids of the active qualification types it requires."""
    rows = db.session.execute(
        sa.select(position_qualification.c.position_id, position_qualification.c.type_id)
        .join(QualificationType, QualificationType.id == position_qualification.c.type_id)
        .where(QualificationType.active.is_(True), position_qualification.c.position_id.in_(list(position_ids) or [-1])))
    out: dict[int, set[int]] = {}
    for position_id, type_id in rows:
        out.setdefault(position_id, set()).add(type_id)
    return out


def _certificates_by_pair(user_ids) -> dict[tuple[int, int], list[Certificate]]:
    out: dict[tuple[int, int], list[Certificate]] = {}
    query = (sa.select(Certificate).where(Certificate.user_id.in_(list(user_ids) or [-1]))
             .options(selectinload(Certificate.type)).order_by(Certificate.id))
    for certificate in db.session.scalars(query):
        out.setdefault((certificate.user_id, certificate.type_id), []).append(certificate)
    return out


@dataclass
class Row:
    user: User
    cells: dict[int, Cell]

    @property
    def blocked(self) -> bool:
        """今天不得上岗: a required qualification missing or expired."""
        return any(cell.blocking for cell in self.cells.values())

    @property
    def blocking_types(self) -> list[int]:
        return [type_id for type_id, cell in self.cells.items() if cell.blocking]


@dataclass
class Grid:
    department: Department
    day: date
    types: list[QualificationType]
    rows: list[Row]

    @property
    def blocked_count(self) -> int:
        return sum(1 for row in self.rows if row.blocked)

    @property
    def coverage(self) -> float | None:
        cells = [c for row in self.rows for c in row.cells.values() if c.required]
        if not cells:
            return None
        return _percent(sum(1 for c in cells if c.status in (VALID, EXPIRING)), len(cells))


def _percent(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1)


def department_grid(actor, department_id: int, day: date | None = None) -> Grid:
    """The position × person view of a department: its active members, the types their positions require
    (and any other they hold a certificate of), and each pair's status. Its head and managers only (403)."""
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound()
    if not may_oversee(actor, department.id):
        raise PermissionDenied()
    day = day or local_today()
    people = list(db.session.scalars(
        sa.select(User).where(User.department_id == department.id, User.active.is_(True))
        .options(selectinload(User.position)).order_by(User.position_id.is_(None), User.position_id, User.display_name)))
    required = _required_types_by_position({u.position_id for u in people if u.position_id})
    certificates = _certificates_by_pair(u.id for u in people)
    type_ids = set().union(*required.values()) if required else set()
    type_ids |= {type_id for (_user, type_id), certs in certificates.items()
                 if any(c.revoked_at is None for c in certs)}
    types = list(db.session.scalars(sa.select(QualificationType).where(QualificationType.id.in_(type_ids or [-1]))
                                    .order_by(QualificationType.name)))
    rows = []
    for person in people:
        needed = required.get(person.position_id, set())
        cells = {t.id: cell_for(certificates.get((person.id, t.id), []), day, required=t.id in needed)
                 for t in types if t.id in needed or certificates.get((person.id, t.id))}
        rows.append(Row(person, cells))
    return Grid(department, day, types, rows)


@dataclass
class PersonView:
    person: User
    day: date
    required: list[tuple[QualificationType, Cell]]
    certificates: list[Certificate]
    may_edit: bool

    @property
    def blocked(self) -> bool:
        return any(cell.blocking for _type, cell in self.required)


def person_view(actor, user_id: int, day: date | None = None) -> PersonView:
    person = get_person(actor, user_id)
    day = day or local_today()
    required_ids = _required_types_by_position([person.position_id] if person.position_id else []).get(
        person.position_id, set())
    certificates = [c for certs in _certificates_by_pair([person.id]).values() for c in certs]
    by_type: dict[int, list[Certificate]] = {}
    for c in certificates:
        by_type.setdefault(c.type_id, []).append(c)
    types = db.session.scalars(sa.select(QualificationType).where(QualificationType.id.in_(required_ids or [-1]))
                               .order_by(QualificationType.name))
    required = [(t, cell_for(by_type.get(t.id, []), day, required=True)) for t in types]
    certificates.sort(key=lambda c: (c.revoked_at is not None, c.type.name, -c.issued_on.toordinal(), -c.id))
    return PersonView(person, day, required, certificates, may_edit_certificates_of(actor, person))


@dataclass
class Overview:
    own: PersonView
    departments: list[tuple[Department, float | None]]
    may_manage_types: bool


def overview(actor, day: date | None = None) -> Overview:
    """The landing page: the actor's own qualifications, and the departments they look after with coverage."""
    day = day or local_today()
    departments = [(d, coverage(d.id, day)) for d in overseen_departments(actor)]
    return Overview(person_view(actor, actor.id, day), departments, may_manage_types(actor))


# -- the coverage KPI -----------------------------------------------------------------------------
def coverage(department_id: int | None = None, day: date | None = None) -> float | None:
    """上岗资格覆盖率 (%): of the (person, type) pairs that active people's positions require, those covered by
    a valid certificate on ``day``; company-wide, or of one department. None when nothing is required."""
    day = day or local_today()
    pairs = (sa.select(User.id.label("user_id"), position_qualification.c.type_id.label("type_id"))
             .join(position_qualification, position_qualification.c.position_id == User.position_id)
             .join(QualificationType, QualificationType.id == position_qualification.c.type_id)
             .where(User.active.is_(True), QualificationType.active.is_(True)))
    if department_id is not None:
        pairs = pairs.where(User.department_id == department_id)
    pairs = pairs.subquery()
    covered = sa.exists().where(Certificate.user_id == pairs.c.user_id, Certificate.type_id == pairs.c.type_id,
                                Certificate.revoked_at.is_(None), Certificate.issued_on <= day,
                                sa.or_(Certificate.expires_on.is_(None), Certificate.expires_on >= day))
    total, good = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((covered, 1), else_=0)), 0))
        .select_from(pairs)).one()
    return _percent(int(good), total) if total else None


def coverage_metric(start: date, end: date) -> float | None:
    """The objectives metric: company-wide coverage as of the period's last day."""
    return coverage(None, end)


def department_coverage_metric(start: date, end: date, department_id: int | None = None) -> float | None:
    """The per-department objectives metric: the objective's department's coverage as of the period's last day."""
    return coverage(department_id, end)


# -- expiry: reminders and to-dos -----------------------------------------------------------------
def _renewed():
    """A certificate with a later one of the same person and type that is not withdrawn: no reminder, no to-do."""
    newer = aliased(Certificate)
    return sa.exists().where(newer.user_id == Certificate.user_id, newer.type_id == Certificate.type_id,
                             newer.id != Certificate.id, newer.revoked_at.is_(None),
                             sa.or_(newer.expires_on.is_(None), newer.expires_on > Certificate.expires_on))


def expiring_certificates(day: date, within: int, *, expired_too: bool = False,
                          department_ids: list[int] | None = None) -> list[Certificate]:
    """Certificates of active people, not withdrawn nor renewed, of active types, expiring from ``day`` to
    ``day + within`` (and already expired ones with ``expired_too``, for required types only)."""
    query = (sa.select(Certificate).join(User, User.id == Certificate.user_id)
             .join(QualificationType, QualificationType.id == Certificate.type_id)
             .where(Certificate.revoked_at.is_(None), Certificate.expires_on.is_not(None),
                    Certificate.expires_on <= day + timedelta(days=within), User.active.is_(True),
                    QualificationType.active.is_(True), ~_renewed())
             .options(selectinload(Certificate.user), selectinload(Certificate.type)).order_by(Certificate.expires_on))
    required = sa.exists().where(position_qualification.c.position_id == User.position_id,
                                 position_qualification.c.type_id == Certificate.type_id)
    if expired_too:
        query = query.where(sa.or_(Certificate.expires_on >= day, required))
    else:
        query = query.where(Certificate.expires_on >= day)
    if department_ids is not None:
        query = query.where(User.department_id.in_(department_ids or [-1]))
    return list(db.session.scalars(query))


def reminder_step(certificate: Certificate, day: date) -> int | None:
    """Which reminder is due: 30 within 30 days of the expiry, 60 within 60, else None."""
    left = (certificate.expires_on - day).days
    for step in sorted(REMINDER_STEPS):
        if 0 <= left <= step:
            return step
    return None


def send_expiry_reminders(day: date) -> int:
    """Tell the holder and their department head of each certificate entering the 60- and then the 30-day
    window before its expiry, each step once (dedupe keys); a re-run sends nothing new. Only on working days of
    the calendar: a step whose day falls on a weekend or a holiday is sent on the next working day (the window is
    still open then). Returns how many notifications were created."""
    if not is_workday(day):
        return 0
    sent = 0
    for certificate in expiring_certificates(day, max(REMINDER_STEPS)):
        step = reminder_step(certificate, day)
        if step is None:
            continue
        person = certificate.user
        head = person.department.head if person.department is not None else None
        key = f"qualification.expiry:{certificate.id}:{step}"
        recipients = [u for u in (person, head) if u is not None and u.active]
        recipients = list({u.id: u for u in recipients}.values())  # a head holding the certificate: once
        done = already_notified(key, [u.id for u in recipients])
        expires = certificate.expires_on.isoformat()
        for recipient in recipients:
            if recipient.id in done:
                continue
            if recipient.id == person.id:
                title = _("Your %(type)s (no. %(number)s) expires on %(day)s", type=certificate.type.name,
                          number=certificate.number, day=expires)
            else:
                title = _("%(name)s's %(type)s (no. %(number)s) expires on %(day)s", name=person.display_name,
                          type=certificate.type.name, number=certificate.number, day=expires)
            notify(recipient, KIND_EXPIRY, title, _("Renew it in time: without it the position may not be worked."),
                   person_path(person.id), department_id=person.department_id, dedupe_key=key)
            sent += 1
    return sent


@dataclass
class ExpiryTodo:
    certificate: Certificate
    expired: bool


def head_todos(user, day: date | None = None) -> list[ExpiryTodo]:
    """For a department head: their people's certificates expiring within 30 days, or expired (required ones)."""
    departments = headed_department_ids(user)
    if not departments:
        return []
    day = day or local_today()
    return [ExpiryTodo(c, c.expires_on < day)
            for c in expiring_certificates(day, TODO_DAYS, expired_too=True, department_ids=departments)]


# -- registration ---------------------------------------------------------------------------------
def _todos(user):
    from portal.home.registry import TodoItem

    items = []
    for todo in head_todos(user):
        c = todo.certificate
        what = {"name": c.user.display_name, "type": c.type.name}
        items.append(TodoItem(
            title=_("%(name)s's %(type)s has expired", **what) if todo.expired
            else _("%(name)s's %(type)s expires soon", **what),
            url=url_for("training.qualification_person", user_id=c.user_id), category=_("Qualifications"),
            detail=_("Expiry date %(day)s, no. %(number)s", day=c.expires_on.isoformat(), number=c.number),
            urgent=todo.expired))
    return items


def register() -> None:
    """Register what this part contributes (called from hooks.setup())."""
    from portal.core.registry import register_cron, register_demo_seeder
    from portal.home.registry import register_todo_provider
    from portal.notify.registry import register_kind
    from portal.objectives.registry import register_metric
    from portal.training import qualification_audit, qualification_demo, qualification_jobs

    qualification_audit.register()
    register_kind(KIND_EXPIRY, _l("Qualifications about to expire"))
    register_metric(METRIC_KEY, _l("Qualification coverage (%)"), coverage_metric)
    register_metric(DEPARTMENT_METRIC_KEY, _l("Qualification coverage of the department (%)"),
                    department_coverage_metric, per_department=True)
    register_todo_provider("training.qualifications", _todos, order=45)
    # 07:30 Asia/Shanghai (rq cron runs with TZ=Asia/Shanghai).
    register_cron("qualification_expiry", qualification_jobs.expiry_reminders, cron="30 7 * * *")
    register_demo_seeder("qualifications", qualification_demo.seed_qualifications, order=60)
