"""The demo data of feedback intake: 12 service points across the demo departments with a few staff codes, and
5,000 items over 26 weeks that look like a real branch's (channels, working days, opening hours, bad days, the
查询码), seeded in bulk, deterministically and idempotently."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.core.i18n import portal_tz
from portal.extensions import db
from portal.feedback import codes, demo, services
from portal.feedback.demo_data import POINTS
from portal.feedback.models import (CHANNELS, DEVICE, KIOSK, NEGATIVE_MAX, RESOLVED, STAFF_CHANNELS, TABLET, Feedback,
                                    ServicePoint, StaffCode)
from portal.notify.models import Notification
from portal.org.models import User
from tests.helpers import client_for, count

#: 2 December 2026, 12:00 in Shanghai: the demo covers 3 June – 1 December 2026.
NOW = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
DEMO_PASSWORD = "demo1234"


def _seed_all() -> int:
    from portal.org.demo import seed
    from portal.raci.demo import seed_matrix

    seed()
    seed_matrix()
    return demo.seed(now=NOW)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(portal_tz())


def test_nothing_without_the_demo_organisation():
    assert demo.seed(now=NOW) == 0
    assert count(ServicePoint) == 0 and count(Feedback) == 0


def test_points_staff_codes_and_five_thousand_items_that_look_real():
    created = _seed_all()
    points = list(db.session.scalars(sa.select(ServicePoint)))
    staff_codes = list(db.session.scalars(sa.select(StaffCode)))
    rows = list(db.session.scalars(sa.select(Feedback)))
    assert len(points) == 12 and len({p.department.code for p in points}) >= 5
    assert all(p.process is not None for p in points)  # found by name in the demo processes
    assert {p.code: p.process.name for p in points}["RX01"] == "客服热线服务"
    assert {p.code: p.department.code for p in points}["RX01"] == "KF-HL"
    assert 5 <= len(staff_codes) <= 10 and all(sc.user.department_id == sc.service_point.department_id
                                                for sc in staff_codes)
    assert all(re.fullmatch(rf"{sc.service_point.code}-\d\d", sc.code) for sc in staff_codes)
    assert len(rows) == demo.TOTAL == 5000
    assert created == len(points) + len(staff_codes) + len(rows)

    # the last 26 weeks, ending yesterday (Shanghai)
    today = _local(NOW).date()
    days = {_local(r.created_at).date() for r in rows}
    assert min(days) == today - timedelta(days=demo.DAYS) and max(days) == today - timedelta(days=1)
    assert len(days) == demo.DAYS

    # every channel; customers' phones most, then the terminals, then tablets; staff entries name who entered them
    channels = Counter(r.channel for r in rows)
    assert set(channels) == set(CHANNELS)
    assert channels[KIOSK] > channels[DEVICE] > channels[TABLET] > sum(channels[c] for c in STAFF_CHANNELS)
    assert all(r.created_by_id is not None for r in rows if r.channel in STAFF_CHANNELS)
    assert all(r.created_by_id is None for r in rows if r.channel not in STAFF_CHANNELS)

    # ratings mostly 4–5, a realistic share of 3 and 差评; NPS on some; most without a comment
    genuine = [r for r in rows if not r.is_spam]
    rated = [r.rating for r in genuine if r.rating is not None]
    assert sum(x >= 4 for x in rated) / len(rated) > 0.8
    assert 0.04 < sum(x <= NEGATIVE_MAX for x in rated) / len(rated) < 0.12
    assert 0.05 < sum(x == 3 for x in rated) / len(rated) < 0.12
    assert 0.1 < sum(r.nps is not None for r in rows) / len(rows) < 0.4
    assert sum(bool(r.comment) for r in rows) / len(rows) < 0.25

    # what the kiosk's validation would have accepted
    by_id = {p.id: p for p in points}
    for r in rows:
        if r.channel in (KIOSK, TABLET, DEVICE):
            assert set(r.categories) <= set(by_id[r.service_point_id].categories), r.categories
            assert len(r.comment) <= services.MAX_COMMENT
        if r.staff_code_id is not None:
            assert r.channel == KIOSK and r.staff_user_id is not None
        if r.contact_phone or r.contact_email:
            assert r.contact_consent_at is not None and r.contact_purpose
        else:
            assert r.contact_consent_at is None and not r.contact_name
        if r.contact_phone:
            assert services._MOBILE_RE.fullmatch(r.contact_phone)
    assert sum(bool(r.contact_phone or r.contact_email) for r in rows) >= 50

    # spam is kept and flagged, among it a burst from one address
    spam = [r for r in rows if r.is_spam]
    assert 20 <= len(spam) <= 80 and all(r.spam_reasons for r in spam)
    assert "honeypot" in {reason for r in spam for reason in r.spam_reasons.split(",")}
    assert max(Counter(r.source_hash for r in spam).values()) >= 10

    # answered, resolved and rated by the customer: some
    assert 100 < sum(r.status == RESOLVED for r in rows) < 1000
    assert all(r.replied_at >= r.created_at and r.reply for r in rows if r.status == RESOLVED)
    assert all(r.resolved_at is not None for r in rows if r.resolution_rating is not None)
    assert all(max(filter(None, (r.replied_at, r.resolved_at, r.resolution_rated_at, r.created_at))) <= NOW
               for r in rows)
    assert sum(r.resolution_rating is not None for r in rows) >= 20

    # a tablet kept some ratings offline one afternoon: rated before they arrived
    offline = [r for r in rows if r.rated_at != r.created_at]
    assert 5 <= len(offline) <= 50 and all(r.channel == TABLET and r.rated_at < r.created_at for r in offline)


def test_weekdays_hours_and_bad_days():
    _seed_all()
    rows = [r for r in db.session.scalars(sa.select(Feedback)) if not r.is_spam]
    tz = portal_tz()
    local = [(r, r.created_at.astimezone(tz)) for r in rows]

    # more on working days than at weekends (26 of each weekday)
    by_weekday = Counter(moment.weekday() for _r, moment in local)
    assert min(by_weekday[d] for d in range(5)) > 1.5 * max(by_weekday[5], by_weekday[6])

    # the hourly histogram of customers' ratings: peaks around 10:00 and 15:00, a dip at lunch, quiet nights
    hours = Counter(moment.hour for r, moment in local if r.channel in (KIOSK, TABLET, DEVICE))
    peak = max(hours, key=hours.get)
    assert peak in (10, 11, 15)
    assert hours[12] < 0.6 * hours[10] and hours[12] < 0.6 * hours[15]
    assert sum(hours[h] for h in range(0, 7)) < 0.01 * sum(hours.values())
    # …and every point's ratings fall inside its opening hours
    specs = {spec.code: spec for spec in POINTS}
    points = {p.id: p.code for p in db.session.scalars(sa.select(ServicePoint))}
    for r, moment in local:
        if r.channel in (KIOSK, TABLET, DEVICE):
            spec = specs[points[r.service_point_id]]
            rated = r.rated_at.astimezone(tz)
            hour = rated.hour + rated.minute / 60
            assert any(a <= hour < b for a, b in spec.workday + spec.restday), (spec.code, rated)

    # at least two bad days with a clearly higher share of 差评 than the rest
    days: dict = defaultdict(list)
    for r, moment in local:
        if r.rating is not None:
            days[moment.date()].append(r.rating <= NEGATIVE_MAX)
    overall = sum(sum(v) for v in days.values()) / sum(len(v) for v in days.values())
    bad = [day for day, v in days.items() if len(v) >= 40 and sum(v) / len(v) > 3 * overall]
    assert len(bad) >= 2, (overall, sorted((sum(v) / len(v), len(v), d) for d, v in days.items())[-5:])
    world, _items = demo.generate(NOW)
    assert set(world.bad_days.values()) <= set(bad)
    outage = [r for r, moment in local if moment.date() == world.bad_days["outage"] and "系统故障" in r.comment]
    assert len(outage) >= 5


def test_query_codes_notifications_audit_and_idempotency(app):
    _seed_all()
    rows = list(db.session.scalars(sa.select(Feedback).order_by(Feedback.id)))
    assert len({r.query_code_digest for r in rows}) == len(rows)
    assert len({r.idempotency_key for r in rows}) == len(rows) and all(r.idempotency_key.startswith("demo:")
                                                                         for r in rows)
    # ids follow arrival (the staff list is newest first by id)
    assert [r.created_at for r in rows] == sorted(r.created_at for r in rows)
    for r in rows[::250]:
        code = codes.unseal_query_code(r.query_code_sealed)
        assert services.find_by_query_code(codes.display_query_code(code).lower()).id == r.id

    # the four 查询码 that README-demo.md offers
    rated = services.find_by_query_code("DEMA-2345")
    assert rated.status == RESOLVED and rated.resolution_rating == 4 and rated.reply
    waiting = services.find_by_query_code("DEMB-2345")
    assert waiting.status == RESOLVED and waiting.resolution_rating is None
    praise = services.find_by_query_code("DEMC-2345")
    assert praise.rating == 5 and praise.reply and praise.resolved_at is None
    fresh = services.find_by_query_code("DEMD-2345")
    assert fresh.rating <= NEGATIVE_MAX and fresh.status == "new" and not fresh.reply
    assert _local(fresh.created_at).date() >= _local(NOW).date() - timedelta(days=3)
    db.session.commit()
    client = app.test_client()
    page = client.get("/q/DEMA2345").get_data(as_text=True)
    assert rated.reply in page and "已办结" in page
    page = client.get("/q/DEMB-2345").get_data(as_text=True)
    assert 'name="rating"' in page  # the customer may rate the handling
    quality = db.session.scalar(sa.select(User).where(User.username == "quality"))
    staff = client_for(app, quality, DEMO_PASSWORD)
    assert staff.get("/feedback/").status_code == 200
    assert staff.get(f"/feedback/{rated.id}").status_code == 200

    # a handful of notifications (the latest 差评), dated when the feedback came, not 5,000
    notes = list(db.session.scalars(sa.select(Notification).where(Notification.kind == services.KIND_NEGATIVE)))
    assert 1 <= len(notes) <= demo.NOTIFY_LATEST
    assert all(n.created_at < NOW for n in notes)

    # one audit event for the items (the points and staff codes have their own, from the services)
    events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "feedback.seed_demo")))
    assert len(events) == 1 and events[0].summary["items"] == 5000 and events[0].summary["via"] == "seed-demo"
    assert count(AuditEvent, AuditEvent.action == "feedback.receive") == 0
    assert count(AuditEvent, AuditEvent.action == "feedback.point_create") == 12

    # idempotent: a second run (even a day later) adds nothing
    before = (count(Feedback), count(ServicePoint), count(StaffCode), count(Notification), count(AuditEvent))
    assert demo.seed(now=NOW) == 0
    assert demo.seed(now=NOW + timedelta(days=1)) == 0
    assert (count(Feedback), count(ServicePoint), count(StaffCode), count(Notification), count(AuditEvent)) == before


def test_deterministic():
    from portal.org.demo import seed

    seed()
    first = [(i.local, i.channel, i.rating, i.comment, i.code) for i in demo.generate(NOW)[1]]
    again = [(i.local, i.channel, i.rating, i.comment, i.code) for i in demo.generate(NOW)[1]]
    assert first == again and len(first) == demo.TOTAL


@pytest.mark.parametrize("code", ["DEMA2345", "DEMB2345", "DEMC2345", "DEMD2345"])
def test_showcase_codes_are_valid_query_codes(code):
    assert codes.normalize_query_code(code) == code
