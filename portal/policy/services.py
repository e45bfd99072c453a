"""Quality policy rules: the version lifecycle, acknowledgements, acknowledgement rates and reminders.

Lifecycle: draft → approved (the approver's electronic signature over the exact title and body) →
published, which supersedes the version published before. Only a draft changes. At most one version is
being prepared (draft or approved) at a time, and at most one is published.

Every function takes the acting user, checks that the actor may do it, flushes but never commits, and
writes an audit event for each state change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import signals
from portal.audit.services import events_for, record
from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.esign.services import content_hash, sign
from portal.extensions import db
from portal.notify.registry import DigestItem
from portal.notify.services import already_notified, notify_many
from portal.org.models import Department, User
from portal.org.services import department_tree
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.policy.models import APPROVED, DRAFT, PUBLISHED, SUPERSEDED, PolicyAcknowledgement, QualityPolicy
from portal.web.access import ensure_role
from portal.core.i18n import portal_tz

#: Who drafts, approves and publishes the policy, and sees every department's acknowledgements.
MANAGERS = (ADMIN, QUALITY_MANAGER)
#: Who may see acknowledgement rates at all (department heads: their own departments only).
RATE_VIEWERS = (ADMIN, QUALITY_MANAGER, DEPT_HEAD)
SIGNATURE_OBJECT = "quality_policy"
APPROVE_MEANING = "approve"
REMINDER_KIND = "policy.reminder"
PUBLISHED_KIND = "policy.published"
#: The automatic objective metric (portal.objectives.registry).
METRIC_KEY = "policy.acknowledgement_rate"
#: Links stored in notifications and digests are site-relative paths (jobs have no request to build URLs).
INDEX_PATH = "/quality/policy/"
TITLE_MAX = 200
BODY_MAX = 20000


def is_manager(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(*MANAGERS))


def ensure_manager(actor) -> None:
    """Only quality managers and administrators manage policy versions."""
    ensure_role(actor, *MANAGERS)


def policy_content_hash(policy: QualityPolicy) -> str:
    """What the approver signs: the exact title and body."""
    return content_hash(policy.title, policy.body)


# -- lookups --------------------------------------------------------------------------------------
def current_policy() -> QualityPolicy | None:
    """The published version, if any."""
    return db.session.scalar(sa.select(QualityPolicy).where(QualityPolicy.status == PUBLISHED).limit(1))


def open_version() -> QualityPolicy | None:
    """The version being prepared (a draft, or approved but not yet published), if any."""
    return db.session.scalar(
        sa.select(QualityPolicy).where(QualityPolicy.status.in_((DRAFT, APPROVED))).order_by(QualityPolicy.version).limit(1)
    )


def list_versions(actor) -> list[QualityPolicy]:
    ensure_manager(actor)
    return list(db.session.scalars(
        sa.select(QualityPolicy)
        .options(selectinload(QualityPolicy.created_by), selectinload(QualityPolicy.published_by),
                 selectinload(QualityPolicy.approved_signature))
        .order_by(QualityPolicy.version.desc())
    ))


def get_policy(actor, policy_id: int) -> QualityPolicy:
    """A version the actor may read: managers any; everyone else the published and superseded ones
    (a version in preparation does not exist for them)."""
    policy = db.session.get(QualityPolicy, policy_id)
    if policy is None or (policy.status in (DRAFT, APPROVED) and not is_manager(actor)):
        raise NotFound()
    return policy


def get_managed_policy(actor, policy_id: int) -> QualityPolicy:
    """A version for a management action: the role is checked before the id is looked up."""
    ensure_manager(actor)
    policy = db.session.get(QualityPolicy, policy_id)
    if policy is None:
        raise NotFound()
    return policy


def draft_defaults(actor) -> tuple[str, str]:
    """A new draft starts from the current published text (or empty when nothing is published)."""
    ensure_manager(actor)
    published = current_policy()
    return (published.title, published.body) if published else ("", "")


# -- the lifecycle --------------------------------------------------------------------------------
def _clean_text(title: str, body: str) -> tuple[str, str]:
    title = " ".join((title or "").split())
    body = "\n".join(line.rstrip() for line in (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
    errors: list[tuple[str | None, str]] = []
    if not title:
        errors.append(("title", _("Please enter the title.")))
    elif len(title) > TITLE_MAX:
        errors.append(("title", _("The title may have at most %(n)d characters.", n=TITLE_MAX)))
    if not body:
        errors.append(("body", _("Please enter the policy text.")))
    elif len(body) > BODY_MAX:
        errors.append(("body", _("The policy text may have at most %(n)d characters.", n=BODY_MAX)))
    if errors:
        raise ServiceError(*errors)
    return title, body


def create_draft(actor, title: str, body: str) -> QualityPolicy:
    """Start the next version as a draft. Refused while another version is still being prepared."""
    ensure_manager(actor)
    title, body = _clean_text(title, body)
    pending = open_version()
    if pending is not None:
        raise ServiceError((None, _("Version %(version)d is still being prepared: finish or publish it first.",
                                    version=pending.version)))
    based_on = current_policy()
    version = (db.session.scalar(sa.select(sa.func.max(QualityPolicy.version))) or 0) + 1
    now = utcnow()
    policy = QualityPolicy(version=version, title=title, body=body, status=DRAFT, created_by_id=actor.id,
                           created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(policy)
            db.session.flush()
    except IntegrityError:
        # Another manager took the same version number a moment ago.
        raise Conflict((None, _("Someone else created version %(version)d at the same moment. Reload and try again.",
                                version=version)))
    record("policy.create", policy, actor=actor, after={"version": version, "title": title, "status": DRAFT},
           extra={"based_on_version": based_on.version if based_on else None})
    return policy


def update_draft(actor, policy: QualityPolicy, title: str, body: str) -> QualityPolicy:
    ensure_manager(actor)
    if not policy.is_editable:
        raise ServiceError((None, _("Only a draft can be edited; version %(version)d is %(status)s.",
                                    version=policy.version, status=policy.status_label)))
    title, body = _clean_text(title, body)
    before = {"title": policy.title, "body_sha256": policy_content_hash(policy)}
    policy.title, policy.body = title, body
    after = {"title": policy.title, "body_sha256": policy_content_hash(policy)}
    if after != before:
        policy.updated_at = utcnow()
        db.session.flush()
        record("policy.update", policy, actor=actor, before=before, after=after)
    return policy


def _transition(policy: QualityPolicy, from_status: str, **values) -> None:
    """Move ``policy`` on only if it is still in ``from_status``: of two managers acting at once, the
    second finds the row changed (PostgreSQL re-checks the condition after the first one commits)."""
    result = db.session.execute(
        sa.update(QualityPolicy)
        .where(QualityPolicy.id == policy.id, QualityPolicy.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(policy)
        raise Conflict((None, _("Someone else changed version %(version)d first. Reload and try again.",
                                version=policy.version)))
    db.session.expire(policy)


def authors_of(policy: QualityPolicy) -> set[int]:
    """Who wrote the version: its creator and everyone who saved an edit of it (from the audit trail)."""
    editors = {e.actor_id for e in events_for(policy.__tablename__, policy.id, limit=1000)
               if e.action == "policy.update" and e.actor_id is not None}
    return {policy.created_by_id} | editors


def may_approve(actor, policy: QualityPolicy) -> bool:
    return is_manager(actor) and policy.status == DRAFT and actor.id not in authors_of(policy)


def approve_policy(actor, policy: QualityPolicy, password: str, *, seen_sha256: str | None = None):
    """Approve a draft with the actor's electronic signature (批准) over its exact title and body.

    ``seen_sha256``: the content hash of the text the approver had on screen; when the draft changed
    since, nothing is signed. A wrong password raises SignatureRejected: the failed attempt has been
    written and the caller must commit it.
    """
    ensure_manager(actor)
    if policy.status != DRAFT:
        raise ServiceError((None, _("Only a draft can be approved; version %(version)d is %(status)s.",
                                    version=policy.version, status=policy.status_label)))
    if actor.id in authors_of(policy):
        # Four eyes: whoever wrote the text does not approve it.
        raise ServiceError((None, _("You drafted or edited this version, so you cannot approve it. Another quality "
                                    "manager or an administrator must sign it.")))
    digest = policy_content_hash(policy)
    if seen_sha256 and seen_sha256 != digest:
        raise Conflict((None, _("The text was changed after you opened it. Read it again before signing.")))
    signature = sign(actor, password, APPROVE_MEANING, object_type=SIGNATURE_OBJECT, object_id=policy.id,
                     content_sha256=digest)
    _transition(policy, DRAFT, status=APPROVED, approved_signature_id=signature.id, updated_at=utcnow())
    record("policy.approve", policy, actor=actor, before={"status": DRAFT}, after={"status": APPROVED},
           extra={"version": policy.version, "signature_id": signature.id, "content_sha256": digest})
    return signature


def publish_policy(actor, policy: QualityPolicy) -> QualityPolicy:
    """Publish an approved version; the version published before it is superseded."""
    ensure_manager(actor)
    if policy.status != APPROVED:
        raise ServiceError((None, _("Only an approved version can be published; version %(version)d is %(status)s.",
                                    version=policy.version, status=policy.status_label)))
    signature = policy.approved_signature
    if signature is None or signature.content_sha256 != policy_content_hash(policy):
        raise ServiceError((None, _("The text of version %(version)d does not match its approval signature; "
                                    "it cannot be published.", version=policy.version)))
    now = utcnow()
    previous = current_policy()
    if previous is not None:
        _transition(previous, PUBLISHED, status=SUPERSEDED, superseded_at=now, updated_at=now)
        record("policy.supersede", previous, actor=actor, before={"status": PUBLISHED}, after={"status": SUPERSEDED},
               extra={"version": previous.version, "superseded_by_version": policy.version})
    _transition(policy, APPROVED, status=PUBLISHED, published_at=now, published_by_id=actor.id, updated_at=now)
    record("policy.publish", policy, actor=actor, before={"status": APPROVED}, after={"status": PUBLISHED},
           extra={"version": policy.version, "supersedes_version": previous.version if previous else None})
    signals.policy_published.send(policy, actor=actor, superseded=previous)
    return policy


# -- acknowledgements -----------------------------------------------------------------------------
def acknowledgement_of(user, policy: QualityPolicy | None) -> PolicyAcknowledgement | None:
    if policy is None or user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(sa.select(PolicyAcknowledgement).where(
        PolicyAcknowledgement.policy_id == policy.id, PolicyAcknowledgement.user_id == user.id))


def acknowledge(user, policy: QualityPolicy) -> tuple[PolicyAcknowledgement, bool]:
    """“我已阅读并理解”: record that ``user`` has read the published ``policy``, once.

    Returns the acknowledgement and whether it is new. A repeated or concurrent request returns the
    existing row: the unique (policy, user) constraint decides, and the loser reads the winner's row.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        raise PermissionDenied()
    if policy.status != PUBLISHED:
        raise ServiceError((None, _("Version %(version)d is not the current quality policy. Please read the current one.",
                                    version=policy.version)))
    existing = acknowledgement_of(user, policy)
    if existing is not None:
        return existing, False
    ack = PolicyAcknowledgement(policy_id=policy.id, user_id=user.id, acknowledged_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(ack)
            db.session.flush()
    except IntegrityError:
        existing = acknowledgement_of(user, policy)
        if existing is None:
            raise
        return existing, False
    record("policy.acknowledge", policy, actor=user,
           extra={"version": policy.version, "acknowledgement_id": ack.id, "user_id": user.id})
    return ack, True


@dataclass
class HomeStatus:
    policy: QualityPolicy
    acknowledged_at: datetime | None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


def home_status(user) -> HomeStatus | None:
    """The published policy and whether ``user`` has acknowledged it (one query); None when nothing is published."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    row = db.session.execute(
        sa.select(QualityPolicy, PolicyAcknowledgement.acknowledged_at)
        .outerjoin(PolicyAcknowledgement, sa.and_(PolicyAcknowledgement.policy_id == QualityPolicy.id,
                                                  PolicyAcknowledgement.user_id == user.id))
        .where(QualityPolicy.status == PUBLISHED).limit(1)
    ).first()
    return HomeStatus(row[0], row[1]) if row else None


# -- rates and the people who have not acknowledged ----------------------------------------------
@dataclass
class DepartmentRate:
    department_id: int | None
    name: str
    active_users: int
    acknowledged: int
    depth: int = 0

    @property
    def pending(self) -> int:
        return self.active_users - self.acknowledged

    @property
    def rate(self) -> float | None:
        return self.acknowledged / self.active_users if self.active_users else None

    @property
    def percent(self) -> float | None:
        return None if self.rate is None else round(self.rate * 100, 1)


@dataclass
class RateReport:
    policy: QualityPolicy
    rows: list[DepartmentRate] = field(default_factory=list)

    @property
    def total(self) -> DepartmentRate:
        return DepartmentRate(None, "", sum(r.active_users for r in self.rows), sum(r.acknowledged for r in self.rows))


def visible_departments(actor) -> list[tuple[Department, int]]:
    """The departments whose acknowledgements the actor may see, in tree order with depth: every active
    one for managers, the ones they head for department heads; PermissionDenied for everyone else."""

    ensure_role(actor, *RATE_VIEWERS)
    tree = department_tree(include_inactive=False)
    if is_manager(actor):
        return tree
    return [(d, 0) for d, _depth in tree if d.head_id == actor.id]


def get_visible_department(actor, department_id: int) -> Department:
    """A department the actor may look into; another department is 404 for a department head."""
    ensure_role(actor, *RATE_VIEWERS)
    dept = db.session.get(Department, department_id)
    if dept is None or (not is_manager(actor) and dept.head_id != actor.id):
        raise NotFound()
    return dept


def acknowledgement_rates(actor, policy: QualityPolicy | None) -> RateReport | None:
    """Active users and acknowledgements of ``policy`` per visible department (one counting query)."""
    departments = visible_departments(actor)
    if policy is None:
        return None
    dept_ids = [d.id for d, _depth in departments]
    stmt = (
        sa.select(User.department_id, sa.func.count(User.id), sa.func.count(PolicyAcknowledgement.id))
        .outerjoin(PolicyAcknowledgement, sa.and_(PolicyAcknowledgement.user_id == User.id,
                                                  PolicyAcknowledgement.policy_id == policy.id))
        .where(User.active.is_(True))
        .group_by(User.department_id)
    )
    if not is_manager(actor):
        stmt = stmt.where(User.department_id.in_(dept_ids))
    counts = {dept_id: (users, acked) for dept_id, users, acked in db.session.execute(stmt).all()}
    report = RateReport(policy)
    for dept, depth in departments:
        users, acked = counts.get(dept.id, (0, 0))
        report.rows.append(DepartmentRate(dept.id, dept.name, users, acked, depth))
    if is_manager(actor) and None in counts:
        users, acked = counts[None]
        report.rows.append(DepartmentRate(None, _("No department"), users, acked))
    return report


def _pending_users_stmt(policy: QualityPolicy, department_id: int):
    acknowledged = sa.select(PolicyAcknowledgement.id).where(
        PolicyAcknowledgement.policy_id == policy.id, PolicyAcknowledgement.user_id == User.id)
    return (sa.select(User)
            .where(User.active.is_(True), User.department_id == department_id, ~acknowledged.exists())
            .order_by(User.username))


def non_acknowledgers(actor, policy: QualityPolicy | None, department_id: int) -> tuple[Department, list[User]]:
    """The department and its active users who have not acknowledged ``policy``."""
    dept = get_visible_department(actor, department_id)
    if policy is None:
        return dept, []
    return dept, list(db.session.scalars(_pending_users_stmt(policy, dept.id).options(selectinload(User.position))))


def reminder_key(policy: QualityPolicy, department_id: int, now: datetime) -> str:
    """One reminder per version, department and (local) day: a double click reminds once."""
    day = now.astimezone(portal_tz()).date()
    return f"policy.reminder:v{policy.version}:d{department_id}:{day.isoformat()}"


def send_reminders(actor, policy: QualityPolicy | None, department_id: int, *, now: datetime | None = None) -> int:
    """Notify the department's active users who have not acknowledged the published ``policy``.

    Returns how many were reminded now; those already reminded today for this version are skipped.
    """
    dept = get_visible_department(actor, department_id)
    if policy is None or policy.status != PUBLISHED:
        raise ServiceError((None, _("There is no published quality policy to remind anyone of.")))
    now = now or utcnow()
    key = reminder_key(policy, dept.id, now)
    pending = list(db.session.scalars(_pending_users_stmt(policy, dept.id)))
    already = already_notified(key, [u.id for u in pending])
    recipients = [u for u in pending if u.id not in already]
    if not recipients:
        return 0
    try:
        with db.session.begin_nested():
            notes = notify_many(
                recipients, REMINDER_KIND,
                _("Please read and acknowledge the quality policy (version %(version)d)", version=policy.version),
                policy.title, INDEX_PATH, department_id=dept.id, dedupe_key=key, now=now)
    except IntegrityError:
        return 0  # a concurrent click reminded them a moment ago
    record("policy.remind", policy, actor=actor,
           extra={"version": policy.version, "department_id": dept.id, "recipients": len(notes), "dedupe_key": key})
    return len(notes)


# -- digest and home ------------------------------------------------------------------------------
def digest_unacknowledged(users: list[User], day) -> dict[int, list[DigestItem]]:
    """Digest section: the published version, for each user of the batch who has not acknowledged it.
    Two queries per batch, whatever its size."""
    if not users:
        return {}
    policy = db.session.execute(
        sa.select(QualityPolicy.id, QualityPolicy.version, QualityPolicy.title)
        .where(QualityPolicy.status == PUBLISHED).limit(1)
    ).first()
    if policy is None:
        return {}
    ids = [u.id for u in users]
    done = set(db.session.scalars(sa.select(PolicyAcknowledgement.user_id).where(
        PolicyAcknowledgement.policy_id == policy.id, PolicyAcknowledgement.user_id.in_(ids))))
    title = _("Quality policy version %(version)d: %(title)s", version=policy.version, title=policy.title)
    detail = _("Please read it and confirm that you have read and understood it.")
    return {uid: [DigestItem(title=title, link=INDEX_PATH, detail=detail)] for uid in ids if uid not in done}


def acknowledgement_rate_percent(period_start: date, period_end: date) -> float | None:
    """Objective metric: the share (in %) of the active users who had acknowledged, by the end of
    ``period_end`` (a local day), the version that was published at that moment; None when no version
    was published then. Users are counted as active today: the portal keeps no history of activation."""
    end = datetime.combine(period_end + timedelta(days=1), time.min, portal_tz())
    policy_id = db.session.scalar(
        sa.select(QualityPolicy.id)
        .where(QualityPolicy.published_at.is_not(None), QualityPolicy.published_at < end,
               sa.or_(QualityPolicy.superseded_at.is_(None), QualityPolicy.superseded_at >= end))
        .order_by(QualityPolicy.published_at.desc()).limit(1)
    )
    if policy_id is None:
        return None
    active, acknowledged = db.session.execute(
        sa.select(sa.func.count(User.id), sa.func.count(PolicyAcknowledgement.id))
        .outerjoin(PolicyAcknowledgement, sa.and_(PolicyAcknowledgement.user_id == User.id,
                                                  PolicyAcknowledgement.policy_id == policy_id,
                                                  PolicyAcknowledgement.acknowledged_at < end))
        .where(User.active.is_(True))
    ).one()
    return round(acknowledged * 100 / active, 2) if active else None


def notify_everyone_of(policy: QualityPolicy, **_signal_kwargs) -> int:
    """Subscriber of ``policy_published``: every active user is asked to read and acknowledge the new
    version (in this transaction: the notifications and their outbox rows commit with the publication)."""
    users = list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.id)))
    notes = notify_many(
        users, PUBLISHED_KIND,
        _("A new quality policy is published: please read and acknowledge it"),
        _("Version %(version)d: %(title)s", version=policy.version, title=policy.title),
        INDEX_PATH, dedupe_key=f"policy.published:{policy.id}",
    )
    return len(notes)
