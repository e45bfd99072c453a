"""The daily digest (每日待办摘要): one email per user per working day, built in batches.

Sections come from the registry (``register_digest_section``); each provider answers for a whole batch
of users with a fixed number of queries, so the queries grow with batches, not users. A user with nothing
in any section gets no digest. The ``digest`` row (unique per user and day) and its email delivery
(unique idempotency key) are written together, so re-running a day — after a crash, or twice by
accident — never sends a second digest.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from flask_babel import format_date, gettext as _

from portal.core.types import utcnow
from portal.extensions import db
from portal.notify.models import Delivery, Digest, Notification
from portal.notify.registry import DigestItem, digest_sections
from portal.org.models import Department, User, UserRole
from portal.core.roles import ADMIN, DEPT_HEAD
from portal.workcal.services import WorkCalendar
from portal.core.i18n import portal_tz

BATCH = 500


def digest_subject(digest: Digest) -> str:
    return _("Daily digest for %(day)s: %(n)d open items", day=format_date(digest.day, "yyyy-MM-dd"),
             n=digest.item_count)


def build_day(day: date, *, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Create the digests and their email deliveries for ``day``; return the new delivery ids.

    Commits once per batch. Users who already have a digest for the day are skipped.
    """
    now = now or utcnow()
    delivery_ids: list[int] = []
    last_id = 0
    sections = digest_sections()
    while True:
        users = list(db.session.scalars(
            sa.select(User).where(User.active.is_(True), User.id > last_id).order_by(User.id).limit(batch)
        ))
        if not users:
            return delivery_ids
        last_id = users[-1].id
        done = set(db.session.scalars(
            sa.select(Digest.user_id).where(Digest.day == day, Digest.user_id.in_([u.id for u in users]))
        ))
        users = [u for u in users if u.id not in done]
        if not users:
            continue
        heads = set(db.session.scalars(
            sa.select(UserRole.user_id).where(UserRole.role == DEPT_HEAD, UserRole.user_id.in_([u.id for u in users]))
        ))
        per_user: dict[int, list[dict]] = defaultdict(list)
        for section in sections:
            eligible = [u for u in users if u.id in heads] if section.heads_only else users
            if not eligible:
                continue
            answers = section.provider(eligible, day)
            for user_id, items in answers.items():
                if items:
                    per_user[user_id].append({
                        "key": section.key,
                        "title": str(section.title),
                        "items": [{"title": i.title, "link": i.link, "detail": i.detail} for i in items],
                    })
        new_digests = []
        for user in users:
            if not per_user.get(user.id):
                continue
            count = sum(len(s["items"]) for s in per_user[user.id])
            new_digests.append(Digest(user_id=user.id, day=day, sections=per_user[user.id], item_count=count,
                                      created_at=now))
        if new_digests:
            db.session.add_all(new_digests)
            db.session.flush()
            emails = {u.id: u.email for u in users}
            deliveries = [
                Delivery(channel="email", digest_id=d.id, recipient_id=d.user_id, target=emails[d.user_id],
                         idempotency_key=f"digest:{d.user_id}:{day.isoformat()}", next_attempt_at=now, created_at=now)
                for d in new_digests if emails.get(d.user_id)
            ]
            db.session.add_all(deliveries)
            db.session.flush()
            delivery_ids += [d.id for d in deliveries]
        db.session.commit()


def digest_due(now: datetime, digest_time: str) -> date | None:
    """The day whose digest should go out at ``now`` (a working day, at or after the digest time), else None."""
    local = now.astimezone(portal_tz())
    if local.time() < time.fromisoformat(digest_time):
        return None
    if not WorkCalendar().is_workday(local.date()):
        return None
    return local.date()


def preview(user: User, day: date) -> list[dict]:
    """What the user's digest for ``day`` holds (or would hold if built now), for the portal page."""
    stored = db.session.scalar(sa.select(Digest).where(Digest.user_id == user.id, Digest.day == day))
    if stored is not None:
        return stored.sections
    out = []
    is_head = DEPT_HEAD in user.roles
    for section in digest_sections():
        if section.heads_only and not is_head:
            continue
        items = section.provider([user], day).get(user.id, [])
        if items:
            out.append({"key": section.key, "title": str(section.title),
                        "items": [{"title": i.title, "link": i.link, "detail": i.detail} for i in items]})
    return out


# -- the notification domain's own sections ------------------------------------------------------
def unread_notifications_section(users: list[User], day: date) -> dict[int, list[DigestItem]]:
    """Unread notifications of the last 7 days (at most 10 per user) — what the digest-only kinds deliver."""
    since = datetime.combine(day - timedelta(days=7), time.min, portal_tz())
    ranked = (
        sa.select(Notification.recipient_id, Notification.title, Notification.link, Notification.created_at,
                  sa.func.row_number().over(partition_by=Notification.recipient_id,
                                            order_by=Notification.id.desc()).label("rank"))
        .where(Notification.recipient_id.in_([u.id for u in users]), Notification.read_at.is_(None),
               Notification.created_at >= since)
        .subquery()
    )
    rows = db.session.execute(sa.select(ranked).where(ranked.c.rank <= 10)).all()
    out: dict[int, list[DigestItem]] = defaultdict(list)
    for row in rows:
        out[row.recipient_id].append(DigestItem(title=row.title, link=row.link))
    return out


def team_unread_section(heads: list[User], day: date) -> dict[int, list[DigestItem]]:
    """For department heads: team members with notifications unread for more than 3 working days' worth."""
    cutoff = datetime.combine(day - timedelta(days=3), time.min, portal_tz())
    # (head, department) pairs: one person may head several departments.
    head_depts = db.session.execute(
        sa.select(Department.head_id, Department.id).where(Department.head_id.in_([h.id for h in heads]),
                                                          Department.active.is_(True))
        .order_by(Department.sort_order, Department.code)
    ).all()
    if not head_depts:
        return {}
    rows = db.session.execute(
        sa.select(User.department_id, User.display_name, sa.func.count(Notification.id))
        .join(Notification, Notification.recipient_id == User.id)
        .where(User.department_id.in_([dept_id for _head, dept_id in head_depts]), User.active.is_(True),
               Notification.read_at.is_(None), Notification.created_at < cutoff)
        .group_by(User.id, User.department_id, User.display_name)  # namesakes stay two people
        .order_by(User.display_name, User.id)
    ).all()
    by_dept: dict[int, list[DigestItem]] = defaultdict(list)
    for dept_id, name, count in rows:
        by_dept[dept_id].append(DigestItem(title=_("%(name)s has %(n)d notifications unread for over 3 days",
                                                   name=name, n=count)))
    out: dict[int, list[DigestItem]] = defaultdict(list)
    for head_id, dept_id in head_depts:
        out[head_id] += by_dept.get(dept_id, [])
    return dict(out)


def audit_anchor_section(users: list[User], day: date) -> dict[int, list[DigestItem]]:
    """For administrators: the audit chain's latest anchor (day, event and hash), one line, no query per user.
    Copied into every administrator's mailbox, it lets a truncated trail be noticed even if the anchor file
    is lost with the server."""
    from portal.audit.services import anchor_state

    admins = [user.id for user in users if user.has_role(ADMIN)]
    if not admins:
        return {}
    anchor, problem = anchor_state()
    if problem:
        item = DigestItem(title=_("The audit trail's anchor file does not verify: run flask portal audit-verify"),
                          detail=problem)
    elif anchor is None:  # a new installation, before the first nightly anchor
        return {}
    else:
        item = DigestItem(title=_("Audit trail anchored on %(day)s at event %(id)d, hash %(hash)s",
                                  day=format_date(anchor.day, "yyyy-MM-dd"), id=anchor.event_id, hash=anchor.hash))
    return {user_id: [item] for user_id in admins}
