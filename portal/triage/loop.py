"""The 差评 closed loop after the call-back: rectification (整改), appeals (申诉复核) and the loop's KPIs.

**整改.** A 差评 (rating 1–2) is due for rectification ``PORTAL_TRIAGE_RECTIFY_DAYS`` working days (default 5,
1–15) after the local day it was given: the day itself does not count, and days off (weekends, public holidays,
calendar overrides) are skipped while 调休 Saturdays count (``workcal.WorkCalendar``). The handling department
(members and head of the ticket's department, or a manager) records what was done (``record_rectification``:
the note, and ``rectified_at`` the first time) and attaches evidence (PDF, JPEG or PNG checked by content,
stored under ``instance/triage`` with random names, one ``TicketFile`` each). A rectification is overdue when it
was not recorded by the end of its due day (``is_overdue``).

**申诉复核.** The head of the ticket's department or a manager files an appeal against a 差评 as mistaken or
malicious, with a reason and optional evidence; one appeal is pending per ticket at a time, and a rating whose
appeal was upheld cannot be appealed again. A quality manager decides it — upholds or rejects it with a note —
by an electronic signature (meaning ``appeal_decision``): a wrong password decides nothing. ``Ticket.appeal_status``
follows the latest appeal. An upheld appeal leaves the rating out of both KPIs below; the ticket, its rating and
the appeal stay visible, and every step is in the audit trail. ``appeal_rates`` shows per department how many
appeals were filed and upheld, so a department that has many upheld is visible as such: it is flagged with at least
``FLAG_MIN_FILED`` (3) filed and an upheld share of ``FLAG_UPHELD_SHARE`` (50 %) or more. The rates are counts per
department, so managers and every department head see all departments' (``may_see_rates``). The quality managers
see the pending appeals on 申诉复核 (``review``) and as a to-do (``todos``). Rectifications and appeals take the form's
one-time ``request_key``: a double post records once.

Every function takes the acting user, checks permission (a ticket the actor may not work is NotFound), flushes
but never commits, and writes an audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.i18n import portal_tz
from portal.core.roles import DEPT_HEAD, QUALITY_MANAGER
from portal.core.types import utcnow
from portal.esign.services import content_hash, sign_if
from portal.extensions import db
from portal.home.registry import TodoItem
from portal.org.models import Department
from portal.sop import content
from portal.triage.models import (APPEAL, APPEAL_PENDING, APPEAL_REJECTED, APPEAL_UPHELD, MALICIOUS, MISTAKEN,
                                  RECTIFY, Appeal, Callback, Ticket, TicketFile)
from portal.org.services import headed_department_ids, is_active_user, is_manager
from portal.triage.services import _event, _replayed, get_ticket, may_lead
from portal.workcal.services import WorkCalendar, local_today

RECTIFY_DEFAULT_DAYS, RECTIFY_MAX_DAYS = 5, 15
EVIDENCE_MAX_MB = 10
#: Files one request may attach, at most.
EVIDENCE_MAX_FILES = 10
NOTE_MAX = 5000
RECTIFY_PURPOSE, APPEAL_PURPOSE = "rectify", "appeal"
REVIEW_PATH = "/queue/appeals"
#: A department is flagged on the appeal rates when at least FLAG_MIN_FILED appeals were filed and at least
#: FLAG_UPHELD_SHARE of them upheld: many of its 差评 were found mistaken or malicious, worth a look either way
#: (customers treated unfairly by the rating, or a department appealing its way out of the KPIs).
FLAG_MIN_FILED, FLAG_UPHELD_SHARE = 3, 0.5
SIGN_MEANING = "appeal_decision"
GROUNDS_LABELS = {
    MISTAKEN: _l("Mistaken rating (误评)"),
    MALICIOUS: _l("Malicious rating (恶意评价)"),
}
APPEAL_STATUS_LABELS = {
    APPEAL_PENDING: _l("Appeal pending"),
    APPEAL_UPHELD: _l("Appeal upheld"),
    APPEAL_REJECTED: _l("Appeal rejected"),
}
CALLBACK_METRIC, RECTIFY_METRIC = "triage.callback_rate", "triage.rectification_rate"


# -- the rectification deadline -------------------------------------------------------------------
def rectify_days() -> int:
    """Working days to rectify a 差评 (``PORTAL_TRIAGE_RECTIFY_DAYS``, clamped to 1–15)."""
    value = int(current_app.config.get("PORTAL_TRIAGE_RECTIFY_DAYS", RECTIFY_DEFAULT_DAYS))
    return min(max(value, 1), RECTIFY_MAX_DAYS)


def add_working_days(day: date, days: int, calendar: WorkCalendar | None = None) -> date:
    """The ``days``-th working day after ``day`` (``day`` itself not counted, whether it is a working day or not)."""
    calendar = calendar or WorkCalendar()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            left -= 1
    return day


def local_day(moment: datetime) -> date:
    return moment.astimezone(portal_tz()).date()


def rectification_due(received_at: datetime, days: int | None = None) -> date:
    """The due day of a 差评 given at ``received_at``: ``days`` (the setting) working days after its local day."""
    return add_working_days(local_day(received_at), rectify_days() if days is None else days)


def is_overdue(ticket: Ticket, today: date | None = None) -> bool:
    """A 差评 not rectified by the end of its due day (rectified late, or not yet and the day has passed)."""
    if ticket.rectification_due_on is None:
        return False
    if ticket.rectified_at is not None:
        return local_day(ticket.rectified_at) > ticket.rectification_due_on
    return (today or local_today()) > ticket.rectification_due_on


# -- evidence -------------------------------------------------------------------------------------
def evidence_dir() -> str:
    import os

    return os.path.join(current_app.instance_path, "triage")


def _check_uploads(uploads) -> list[tuple[str, bytes, content.UploadInfo]]:
    uploads = [(name, data) for name, data in (uploads or ()) if data or name]
    if len(uploads) > EVIDENCE_MAX_FILES:
        raise ServiceError(("files", _("Attach at most %(n)d files at a time.", n=EVIDENCE_MAX_FILES)))
    limit = int(current_app.config.get("PORTAL_TRIAGE_EVIDENCE_MAX_MB", EVIDENCE_MAX_MB)) * content.MB
    return [(name, data, content.check_scan(name, data, limit, field="files")) for name, data in uploads]


def _required_text(value: str, field: str, missing: str, errors: list) -> str:
    """``value`` stripped; an error on ``field`` added to ``errors`` when it is empty or too long."""
    value = (value or "").strip()
    if not value:
        errors.append((field, missing))
    elif len(value) > NOTE_MAX:
        errors.append((field, _("At most %(n)d characters.", n=NOTE_MAX)))
    return value


def _checked_uploads(uploads, errors: list) -> list[tuple[str, bytes, content.UploadInfo]]:
    """The uploads, checked by content; ServiceError with these and every earlier error in ``errors``."""
    checked = []
    try:
        checked = _check_uploads(uploads)
    except ServiceError as error:
        errors.extend(error.errors)
    if errors:
        raise ServiceError(*errors)
    return checked


def _store(ticket: Ticket, actor, checked, purpose: str, appeal_id: int | None = None) -> list[TicketFile]:
    files = []
    for _name, data, info in checked:
        files.append(TicketFile(ticket_id=ticket.id, appeal_id=appeal_id, purpose=purpose,
                                stored_name=content.store_file(data, evidence_dir()),
                                display_name=info.display_name[:200], mime_type=info.mime_type, size=info.size,
                                sha256=info.sha256, uploaded_by_id=actor.id))
    db.session.add_all(files)
    db.session.flush()
    return files


def evidence_of(actor, ticket_id: int) -> list[TicketFile]:
    ticket = get_ticket(actor, ticket_id)
    return list(db.session.scalars(sa.select(TicketFile).where(TicketFile.ticket_id == ticket.id)
                                   .order_by(TicketFile.id)))


def evidence_file(actor, file_id: int) -> tuple[TicketFile, bytes]:
    """An evidence file and its bytes, for those who may work its ticket (NotFound otherwise)."""
    row = db.session.get(TicketFile, file_id)
    if row is None:
        raise NotFound()
    get_ticket(actor, row.ticket_id)
    try:
        return row, content.read_file(evidence_dir(), row.stored_name)
    except (OSError, ValueError):
        raise NotFound()


# -- rectification -------------------------------------------------------------------------------
def _key(request_key: str | None) -> str | None:
    return (request_key or None) and request_key[:64]


def _negative(actor, ticket_id: int) -> Ticket:
    ticket = get_ticket(actor, ticket_id)
    if not ticket.negative:
        raise ServiceError((None, _("Only a 差评 (a rating of 1 or 2) has a rectification or an appeal.")))
    return ticket


def record_rectification(actor, ticket_id: int, note: str, uploads=(), *, request_key: str | None = None) -> Ticket:
    """整改: what was done (the note, replacing an earlier one) and evidence files; ``rectified_at`` is set the first
    time. For the members and the head of the ticket's department, and managers. A form posted twice with the same
    ``request_key`` records it once."""
    ticket = _negative(actor, ticket_id)
    if _replayed(request_key, ticket) is not None:
        return ticket
    errors: list = []
    note = _required_text(note, "note", _("Describe the rectification."), errors)
    checked = _checked_uploads(uploads, errors)
    before = {"rectification_note": ticket.rectification_note, "rectified": ticket.rectified_at is not None}
    now = utcnow()
    ticket.rectification_note, ticket.updated_at = note, now
    if ticket.rectified_at is None:
        ticket.rectified_at = now
    files = _store(ticket, actor, checked, RECTIFY_PURPOSE)
    db.session.flush()
    _event(ticket, RECTIFY, actor, note, request_key=_key(request_key), files=[f.id for f in files])
    record("triage.rectify", ticket, actor=actor, before=before,
           after={"rectification_note": note, "rectified": True},
           extra={"files": [f.display_name for f in files], "overdue": is_overdue(ticket)})
    return ticket


def add_evidence(actor, ticket_id: int, uploads) -> list[TicketFile]:
    """Attach more rectification evidence to a 差评 (same people as ``record_rectification``)."""
    ticket = _negative(actor, ticket_id)
    checked = _check_uploads(uploads)
    if not checked:
        raise ServiceError(("files", _("Choose a file.")))
    files = _store(ticket, actor, checked, RECTIFY_PURPOSE)
    _event(ticket, RECTIFY, actor, files=[f.id for f in files])
    record("triage.evidence", ticket, actor=actor, extra={"files": [f.display_name for f in files]})
    return files


# -- appeals --------------------------------------------------------------------------------------
def may_decide(user) -> bool:
    return is_active_user(user) and user.has_role(QUALITY_MANAGER)


def appeals_of(actor, ticket_id: int) -> list[Appeal]:
    ticket = get_ticket(actor, ticket_id)
    return list(db.session.scalars(sa.select(Appeal).where(Appeal.ticket_id == ticket.id).order_by(Appeal.id)))


def get_appeal(actor, appeal_id: int) -> Appeal:
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound()
    get_ticket(actor, appeal.ticket_id)
    return appeal


def pending_appeals(actor) -> list[Appeal]:
    """The appeals waiting for a decision (quality managers; nobody else decides)."""
    if not may_decide(actor):
        raise PermissionDenied()
    return list(db.session.scalars(sa.select(Appeal).where(Appeal.status == APPEAL_PENDING)
                                   .order_by(Appeal.filed_at, Appeal.id)))


def may_appeal(user, ticket: Ticket) -> bool:
    """Whether ``user`` may file an appeal against ``ticket``'s rating now: a 差评 without a pending or upheld
    appeal, and the head of its department or a manager."""
    return (ticket.negative and ticket.appeal_status not in (APPEAL_PENDING, APPEAL_UPHELD)
            and may_lead(user, ticket))


@dataclass(frozen=True)
class AppealRow:
    """An appeal as the 申诉复核 page lists it: with its ticket, the ticket's department and its evidence."""
    appeal: Appeal
    ticket: Ticket
    department: str
    files: tuple


def _rows(appeals: list[Appeal]) -> list[AppealRow]:
    """The appeals with their tickets, departments and files: three queries however many appeals."""
    if not appeals:
        return []
    ticket_ids = {a.ticket_id for a in appeals}
    tickets = {t.id: t for t in db.session.scalars(sa.select(Ticket).where(Ticket.id.in_(ticket_ids)))}
    names = dict(db.session.execute(sa.select(Department.id, Department.name).where(
        Department.id.in_({t.department_id for t in tickets.values()}))).all())
    files: dict[int, list[TicketFile]] = {}
    for row in db.session.scalars(sa.select(TicketFile).where(TicketFile.appeal_id.in_([a.id for a in appeals]))
                                  .order_by(TicketFile.id)):
        files.setdefault(row.appeal_id, []).append(row)
    return [AppealRow(a, tickets[a.ticket_id], names.get(tickets[a.ticket_id].department_id, ""),
                      tuple(files.get(a.id, ()))) for a in appeals]


def pending_appeal_count(user) -> int:
    """How many appeals wait for a decision (0 for those who do not decide): the nav's and the to-do's count."""
    if not may_decide(user):
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(Appeal).where(Appeal.status == APPEAL_PENDING))


def review(actor, decided_limit: int = 30) -> tuple[list[AppealRow], list[AppealRow]]:
    """The 申诉复核 page: (the pending appeals, oldest first; the ``decided_limit`` most recently decided), for
    quality managers only (PermissionDenied otherwise)."""
    pending = pending_appeals(actor)
    decided = list(db.session.scalars(sa.select(Appeal).where(Appeal.status != APPEAL_PENDING)
                                      .order_by(Appeal.decided_at.desc(), Appeal.id.desc()).limit(decided_limit)))
    return _rows(pending), _rows(decided)


def todos(user) -> list:
    """The quality manager's to-do: the appeals waiting for a decision (one item with their count)."""
    waiting = pending_appeal_count(user) if user.active else 0
    if not waiting:
        return []
    return [TodoItem(title=_("%(n)d appeals against negative ratings wait for your decision", n=waiting),
                     url=REVIEW_PATH, category=_("Tickets"))]


def file_appeal(actor, ticket_id: int, *, grounds: str, reason: str, uploads=(),
                request_key: str | None = None) -> Appeal:
    """申诉: the head of the ticket's department or a manager says the 差评 is mistaken or malicious. A form posted
    twice with the same ``request_key`` files one appeal (the second post returns the first's)."""
    ticket = _negative(actor, ticket_id)
    if not may_lead(actor, ticket):
        raise PermissionDenied()
    earlier = _replayed(request_key, ticket)
    if earlier is not None and earlier.data.get("appeal_id"):
        return db.session.get(Appeal, earlier.data["appeal_id"])
    errors: list = []
    if grounds not in GROUNDS_LABELS:
        errors.append(("grounds", _("Choose whether the rating is mistaken or malicious.")))
    reason = _required_text(reason, "reason", _("Give the reason for the appeal."), errors)
    if ticket.appeal_status == APPEAL_PENDING:
        errors.append((None, _("An appeal against this rating is already waiting for a decision.")))
    elif ticket.appeal_status == APPEAL_UPHELD:
        errors.append((None, _("An appeal against this rating was upheld already.")))
    checked = _checked_uploads(uploads, errors)
    appeal = Appeal(ticket_id=ticket.id, grounds=grounds, reason=reason, status=APPEAL_PENDING,
                    filed_by_id=actor.id, filed_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
            db.session.flush()
    except sa.exc.IntegrityError:  # a twin request filed one a moment ago (one pending per ticket)
        raise Conflict((None, _("An appeal against this rating is already waiting for a decision.")))
    before = ticket.appeal_status
    ticket.appeal_status, ticket.updated_at = APPEAL_PENDING, utcnow()
    files = _store(ticket, actor, checked, APPEAL_PURPOSE, appeal_id=appeal.id)
    _event(ticket, APPEAL, actor, reason, request_key=_key(request_key), appeal_id=appeal.id, grounds=grounds,
           status=APPEAL_PENDING)
    record("triage.appeal", ticket, actor=actor, before={"appeal_status": before},
           after={"appeal_status": APPEAL_PENDING},
           extra={"appeal_id": appeal.id, "grounds": grounds, "reason": reason,
                  "files": [f.display_name for f in files]})
    return appeal


def appeal_fingerprint(appeal: Appeal, status: str, note: str) -> str:
    """What the quality manager signs: the appeal (ticket, grounds, reason) and the decision with its note."""
    return content_hash(str(appeal.ticket_id), str(appeal.id), appeal.grounds, appeal.reason, status, note)


def decide_appeal(actor, appeal_id: int, *, uphold: bool, note: str, password: str) -> Appeal:
    """申诉复核: a quality manager upholds or rejects a pending appeal with a note, signing with their password
    (SignatureRejected on a wrong one: nothing is decided). Upheld: the rating leaves the KPIs."""
    appeal = get_appeal(actor, appeal_id)
    if not may_decide(actor):
        raise PermissionDenied()
    if appeal.status != APPEAL_PENDING:
        raise Conflict((None, _("This appeal has been decided already.")))
    errors: list = []
    note = _required_text(note, "note", _("Give the reason for the decision."), errors)
    if errors:
        raise ServiceError(*errors)
    status = APPEAL_UPHELD if uphold else APPEAL_REJECTED
    now = utcnow()

    def claim() -> bool:
        return bool(db.session.execute(
            sa.update(Appeal).where(Appeal.id == appeal.id, Appeal.status == APPEAL_PENDING)
            .values(status=status, decided_by_id=actor.id, decided_at=now, decision_note=note),
            execution_options={"synchronize_session": False}).rowcount)

    signature = sign_if(actor, password, SIGN_MEANING, object_type="ticket_appeal", object_id=appeal.id,
                        content_sha256=appeal_fingerprint(appeal, status, note), claim=claim, comment=note)
    if signature is None:
        raise Conflict((None, _("This appeal has been decided already.")))
    db.session.execute(sa.update(Appeal).where(Appeal.id == appeal.id).values(signature_id=signature.id),
                       execution_options={"synchronize_session": False})
    db.session.refresh(appeal)
    ticket = db.session.get(Ticket, appeal.ticket_id)
    ticket.appeal_status, ticket.updated_at = status, now
    db.session.flush()
    _event(ticket, APPEAL, actor, note, appeal_id=appeal.id, status=status)
    record("triage.appeal_decide", ticket, actor=actor, before={"appeal_status": APPEAL_PENDING},
           after={"appeal_status": status},
           extra={"appeal_id": appeal.id, "note": note, "signature_id": signature.id})
    return appeal


@dataclass(frozen=True)
class AppealRate:
    department_id: int
    name: str
    filed: int
    upheld: int

    @property
    def upheld_share(self) -> float | None:
        """Upheld ÷ filed (pending ones included in filed), or None without appeals."""
        return self.upheld / self.filed if self.filed else None

    @property
    def flagged(self) -> bool:
        """Many upheld appeals: at least FLAG_MIN_FILED filed and an upheld share of FLAG_UPHELD_SHARE or more."""
        return self.filed >= FLAG_MIN_FILED and self.upheld >= self.filed * FLAG_UPHELD_SHARE


def may_see_rates(user) -> bool:
    """Appeal rates are rate-visible: managers and every department head (the role, or heading a department) see
    every department's rates — the figures are counts per department, nothing about a person."""
    return is_manager(user) or (is_active_user(user) and (user.has_role(DEPT_HEAD)
                                                           or bool(headed_department_ids(user))))


def rates_for(actor, start: date | None = None, end: date | None = None) -> list[AppealRate]:
    """``appeal_rates`` for those who may see them (PermissionDenied otherwise)."""
    if not may_see_rates(actor):
        raise PermissionDenied()
    return appeal_rates(start, end)


def appeal_rates(start: date | None = None, end: date | None = None) -> list[AppealRate]:
    """Per department with appeals (filed in ``start``–``end``, local days, both optional): filed, upheld and the
    upheld share, most upheld first — so a department with many upheld appeals stands out. One query."""
    upheld = sa.func.sum(sa.case((Appeal.status == APPEAL_UPHELD, 1), else_=0))
    query = (sa.select(Department.id, Department.name, sa.func.count(Appeal.id), upheld)
             .select_from(Appeal).join(Ticket, Ticket.id == Appeal.ticket_id)
             .join(Department, Department.id == Ticket.department_id)
             .group_by(Department.id, Department.name, Department.sort_order, Department.code))
    if start is not None:
        query = query.where(Appeal.filed_at >= _day_start(start))
    if end is not None:
        query = query.where(Appeal.filed_at < _day_start(end + timedelta(days=1)))
    rows = db.session.execute(query.order_by(upheld.desc(), Department.sort_order, Department.code)).all()
    return [AppealRate(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in rows]


# -- KPIs -----------------------------------------------------------------------------------------
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, portal_tz())


def counted_negatives(department_id: int | None):
    """The 差评 the KPIs count: negative, not spam, not merged into another ticket, no upheld appeal."""
    conditions = [Ticket.negative == sa.true(), Ticket.is_spam == sa.false(), Ticket.duplicate_of_id.is_(None),
                  sa.or_(Ticket.appeal_status.is_(None), Ticket.appeal_status != APPEAL_UPHELD)]
    if department_id is not None:
        conditions.append(Ticket.department_id == department_id)
    return conditions


def _percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def callback_counts(start: date, end: date, department_id: int | None = None) -> tuple[int, int]:
    """(called back, due a call-back) among the 差评 whose customer consented to contact (``callback_required``),
    received from the start of ``start`` to the end of ``end`` (local days), in ``department_id``'s queue (every
    queue when None), leaving out spam, merged duplicates and ratings whose appeal was upheld. A call-back is any
    ``Callback`` record, reached or not (the attempt is the duty)."""
    base = counted_negatives(department_id) + [Ticket.callback_required == sa.true(),
                                      Ticket.received_at >= _day_start(start),
                                      Ticket.received_at < _day_start(end + timedelta(days=1))]
    called = sa.exists().where(Callback.ticket_id == Ticket.id)
    row = db.session.execute(sa.select(sa.func.count(), sa.func.sum(sa.case((called, 1), else_=0)))
                             .select_from(Ticket).where(*base)).one()
    return int(row[1] or 0), int(row[0])


def callback_rate(start: date, end: date, department_id: int | None = None) -> float | None:
    """回访率 (%) = 差评 with consented contact that have a call-back ÷ those 差评 × 100, as ``callback_counts``
    counts them (period by ``received_at``); None when there is none. Target 100 %."""
    return _percent(*callback_counts(start, end, department_id))


def rectification_counts(start: date, end: date, department_id: int | None = None) -> tuple[int, int]:
    """(rectified in time, due) among the 差评 whose rectification was due on a day from ``start`` to ``end``,
    in ``department_id``'s queue (every queue when None), leaving out spam, merged duplicates and ratings whose
    appeal was upheld. In time: ``rectified_at`` on or before the due day (local)."""
    rows = db.session.execute(sa.select(Ticket.rectification_due_on, Ticket.rectified_at).where(
        *counted_negatives(department_id), Ticket.rectification_due_on >= start,
        Ticket.rectification_due_on <= end)).all()
    in_time = sum(1 for due, done in rows if done is not None and local_day(done) <= due)
    return in_time, len(rows)


def rectification_rate(start: date, end: date, department_id: int | None = None) -> float | None:
    """差评整改率 (%) = 差评 rectified by their deadline ÷ 差评 due in the period × 100, as
    ``rectification_counts`` counts them; None when none was due."""
    return _percent(*rectification_counts(start, end, department_id))
