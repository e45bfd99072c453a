"""Demo data of feedback intake: 12 service points of a bank branch's service hall (with its hotline, self-service
area and an administrative window) across six departments, a few clerks' staff codes, and exactly 5,000
feedback items over the last 26 weeks (182 days, ending yesterday, Asia/Shanghai).

The items look like a real branch's: ratings mostly 4–5 with a share of 3 and 差评 that grows at the 10:00 and
15:00 peaks and on Mondays and shrinks over the months; more on working days than at weekends (the
working-day calendar, so holidays count as rest days); hours inside each point's opening hours; every
channel (customers' phones most, tablets, counter terminals and the hotline's IVR through the API, and
complaints, praise and suggestions that staff entered from phone calls, letters, emails, 12345 work orders,
social media and visits); comments only on some, in words that match the rating and category; contact
details only with consent; a few spam rows (honeypot, links, a burst from one address); some answered and
resolved, a few of those rated by the customer; a dozen tablet ratings kept offline one afternoon; and three
bad days: a core-system outage at 一号窗口, a hotline overload after a mobile-banking upgrade, and a pension
day that packs the hall.

Four items have fixed 查询码 so that the customer's page can be tried (README-demo.md): DEMA-2345 (resolved and
rated), DEMB-2345 (resolved, waiting for the customer's rating), DEMC-2345 (praise, answered), DEMD-2345
(yesterday's 差评, not answered yet).

Fast: the points and staff codes go through the services (an audit event each), the 5,000 items are
one bulk insert with one summarising audit event ("feedback.seed_demo"), and only the latest handful of
差评 notify their department heads. Deterministic: one seeded ``random.Random`` (the same "today" gives the
same data; the 查询码 depend only on the item's number). Idempotent: points and staff codes are looked up by
code, items by their idempotency key ("demo:00001" … "demo:05000"); a second run adds nothing.
"""
from __future__ import annotations

import math
import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from portal.audit.services import record
from portal.core.i18n import portal_tz
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import codes, services
from portal.feedback.demo_data import (CLOSINGS_NEGATIVE, CLOSINGS_POSITIVE, EMAIL_NAMES, GOOD_ANYWHERE, GOOD_HALL,
                                       GOOD_THEME, HOTLINE_OVERLOAD, HOURLY, MOBILE_PREFIXES, NEGATIVE, NEGATIVE_FOCUS,
                                       NEGATIVE_THEME, NEUTRAL_ANYWHERE, NEUTRAL_BY_CATEGORY, NEUTRAL_HALL,
                                       NEUTRAL_THEME, OPENINGS, OUTAGE, PENSION_DAY, POINTS, PRAISE_ANYWHERE,
                                       PRAISE_BY_CATEGORY, PRAISE_HALL, PRAISE_THEME, REMOTE_THEMES, REPLIES, SPAM,
                                       STAFF_COMPLAINTS, STAFF_INTROS, STAFF_PRAISE, STAFF_SUGGESTIONS, SURNAMES,
                                       PointSpec)
from portal.feedback.models import (COMPLAINT, DEFAULT_CATEGORIES, DEVICE, KIOSK, NEGATIVE_MAX, NEW, PRAISE, RATING,
                                    REPLIED, RESOLVED, SPAM_HONEYPOT, SPAM_LINKS, SPAM_STALE_FORM, SUGGESTION, TABLET,
                                    Feedback, StaffCode)
from portal.org.models import Department, User

SEED = 20261010
TOTAL = 5000
DAYS = 182
KEY_PREFIX = "demo:"
STAFF_ENTRIES = 150
SPAM_ROWS = 45
#: (code, state) of the items the README offers to try on /q
SHOWCASE = (("DEMA2345", "resolved_rated"), ("DEMB2345", "resolved"), ("DEMC2345", "praise_replied"),
            ("DEMD2345", "new"))
NOTIFY_LATEST = 5


@dataclass
class Item:
    """One feedback row being made (local time; turned into a row dict at the end)."""

    point: PointSpec | None
    department: str
    local: datetime
    channel: str
    kind: str = RATING
    rating: int | None = None
    nps: int | None = None
    categories: list[str] = field(default_factory=list)
    comment: str = ""
    staff: str | None = None          # username behind the staff code
    contact: tuple[str, str, str] = ("", "", "")  # name, phone, email
    spam: tuple[str, ...] = ()
    source: str = ""                 # a fake client address, hashed
    created_by: str | None = None
    rated_local: datetime | None = None  # offline tablet: when the customer rated
    theme: str = ""                  # which reply fits (a category, or a bad day)
    bad_day: str = ""
    reply: str = ""
    replied: datetime | None = None
    resolved: datetime | None = None
    resolution: int | None = None
    resolution_at: datetime | None = None
    code: str = ""


# -- where and when --------------------------------------------------------------------------------------
class _Calendar:
    def __init__(self) -> None:
        from portal.workcal.services import WorkCalendar

        self._calendar = WorkCalendar()
        self._cache: dict[date, bool] = {}

    def workday(self, day: date) -> bool:
        if day not in self._cache:
            self._cache[day] = self._calendar.is_workday(day)
        return self._cache[day]


def _hours(point: PointSpec, day: date, cal: _Calendar):
    if cal.workday(day):
        return point.workday
    return point.restday if day.weekday() in point.restday_weekdays else ()


def _day_factor(point: PointSpec, day: date, cal: _Calendar) -> float:
    if not _hours(point, day, cal):
        return 0.0
    if cal.workday(day):
        return (1.15, 1.0, 0.95, 0.95, 1.1, 1.0, 1.0)[day.weekday()]
    if point.code == "RX01":
        return 0.7
    if point.code == "ZZ01":
        return 0.75
    return 0.5 if day.weekday() == 5 else 0.38


def _slices(hours) -> tuple[list[tuple[float, float]], list[float]]:
    """Hour-or-less slices of the opening hours and their cumulative weights (HOURLY)."""
    slices, cumulative, total = [], [], 0.0
    for start, end in hours:
        t = start
        while t < end:
            stop = min(end, math.floor(t) + 1)
            total += HOURLY[int(t)] * (stop - t)
            slices.append((t, stop))
            cumulative.append(total)
            t = stop
    return slices, cumulative


def _moment(rng: random.Random, day: date, hours, tz, window: tuple[float, float] | None = None) -> datetime:
    if window is not None:
        hours = tuple((max(a, window[0]), min(b, window[1])) for a, b in hours if min(b, window[1]) > max(a, window[0]))
    slices, cumulative = _slices(hours)
    start, stop = slices[bisect(cumulative, rng.random() * cumulative[-1]) if len(slices) > 1 else 0]
    hour = rng.uniform(start, stop)
    seconds = min(int(hour * 3600), 24 * 3600 - 1)
    return datetime.combine(day, time(seconds // 3600, seconds // 60 % 60, seconds % 60), tz)


# -- what customers say ------------------------------------------------------------------------------------
def _rating(rng: random.Random, m: float) -> int:
    p1, p2, p3, p4 = 0.016 * m, 0.022 * m, min(0.07 * math.sqrt(m), 0.2), 0.21
    r = rng.random()
    return 1 if r < p1 else 2 if r < p1 + p2 else 3 if r < p1 + p2 + p3 else 4 if r < p1 + p2 + p3 + p4 else 5


def _nps(rng: random.Random, rating: int) -> int:
    low, high = {5: (8, 10), 4: (6, 9), 3: (4, 7), 2: (1, 5), 1: (0, 3)}[rating]
    return rng.randint(low, high)


def _chips(point: PointSpec) -> tuple[str, ...]:
    return point.categories or DEFAULT_CATEGORIES


def _negative_category(rng: random.Random, point: PointSpec) -> str:
    chips = _chips(point)
    focus = [c for c in NEGATIVE_FOCUS.get(point.theme, ()) if c in chips]
    if focus and rng.random() < 0.7:
        return rng.choice(focus)
    return rng.choice([c for c in chips if c != "其他"] or list(chips))


def _bank(point: PointSpec, theme_bank: dict, anywhere: tuple, hall: tuple) -> tuple[str, ...]:
    generic = anywhere if point.theme in REMOTE_THEMES else anywhere + hall
    return theme_bank.get(point.theme, ()) + generic


def _negative_phrase(rng: random.Random, point: PointSpec, category: str) -> str:
    own = NEGATIVE_THEME.get(point.theme, {}).get(category)
    return rng.choice(own or NEGATIVE.get(category) or NEGATIVE["其他"])


def _say(rng: random.Random, point: PointSpec, rating: int, categories: list[str]) -> str:
    """A comment that fits the rating, the point and the categories ticked (which it may extend by one)."""
    category = categories[0] if categories else ""
    if rating >= 4:
        if category in PRAISE_BY_CATEGORY and rng.random() < 0.8:
            return rng.choice(PRAISE_BY_CATEGORY[category])
        if rating == 4:
            return rng.choice(_bank(point, GOOD_THEME, GOOD_ANYWHERE, GOOD_HALL))
        core = rng.choice(_bank(point, PRAISE_THEME, PRAISE_ANYWHERE, PRAISE_HALL))
        return core + (rng.choice(CLOSINGS_POSITIVE) if rng.random() < 0.2 else "")
    if rating == 3:
        if category in NEUTRAL_BY_CATEGORY:
            return rng.choice(NEUTRAL_BY_CATEGORY[category])
        return rng.choice(_bank(point, NEUTRAL_THEME, NEUTRAL_ANYWHERE, NEUTRAL_HALL))
    text = _negative_phrase(rng, point, category or "其他")
    if category and rng.random() < 0.25:
        other = rng.choice([c for c in _chips(point) if c not in (category, "其他") and c in NEGATIVE] or [category])
        extra = _negative_phrase(rng, point, other)
        if extra != text:
            text += extra
            if other not in categories:
                categories.append(other)
    opening = rng.choice(OPENINGS) if rng.random() < 0.3 and point.theme not in REMOTE_THEMES else ""
    closing = rng.choice(CLOSINGS_NEGATIVE) if rng.random() < 0.3 else ""
    return opening + text + closing


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def _contact(rng: random.Random, *, email: bool = False) -> tuple[str, str, str]:
    name = rng.choice(SURNAMES) + rng.choice(("先生", "女士")) if rng.random() < 0.75 else ""
    if email or rng.random() < 0.12:
        return name, "", f"{rng.choice(EMAIL_NAMES)}{rng.randrange(10, 99)}@example.com"
    return name, _mobile(rng), ""


#: Ratings 5…1 on the bad days (weights): an outage is worse than a crowded morning.
BAD_DAY_RATINGS = {"系统故障": (8, 8, 14, 22, 48), "热线拥堵": (12, 10, 18, 22, 38), "养老金": (14, 14, 22, 22, 28)}


def _customer_item(rng: random.Random, point: PointSpec, local: datetime, m: float, *, bad: tuple[str, ...] = (),
                   bad_day: str = "") -> Item:
    """A rating from the point's kiosk, tablet or terminal; ``bad`` are the phrases of a bad day."""
    kiosk, tablet, _device = point.channels
    r = rng.random()
    channel = KIOSK if r < kiosk else TABLET if r < kiosk + tablet else DEVICE
    item = Item(point, point.department, local, channel, bad_day=bad_day)
    if channel == KIOSK and point.staff and rng.random() < 0.6:
        item.staff = rng.choice(point.staff)
        if item.staff == "wangwu":
            m *= 0.6
        elif item.staff == "luoqiang":
            m *= 1.7
    item.rating = rng.choices((5, 4, 3, 2, 1), BAD_DAY_RATINGS[bad_day])[0] if bad else _rating(rng, m)
    item.source = (f"117.136.{rng.randrange(256)}.{rng.randrange(256)}" if channel == KIOSK
                   else f"10.8.{ord(point.code[1]) % 8}.{rng.randrange(10, 60)}")
    if channel == DEVICE:
        return item  # a terminal's button (or the IVR's key): a rating, nothing else
    answer = 0.6 if channel == TABLET else 1.0
    if rng.random() < 0.33:
        item.nps = _nps(rng, item.rating)
    negative = item.rating <= NEGATIVE_MAX
    category = _negative_category(rng, point) if item.rating <= 3 else ""
    if negative and bad and rng.random() < 0.8:
        item.categories = [c for c in ("办理效率", "等候时间", "接通速度", "适老服务", "引导分流") if c in _chips(point)][:2]
        if rng.random() < 0.75:
            item.comment = rng.choice(bad)
        item.theme = bad_day
    else:
        if item.rating <= 3 and rng.random() < (0.85 if negative else 0.5):
            item.categories = [category]
        elif item.rating >= 4 and rng.random() < 0.3:
            praised = [c for c in _chips(point) if c in PRAISE_BY_CATEGORY]
            item.categories = [rng.choice(praised)] if praised else []
        share = {5: 0.12, 4: 0.12, 3: 0.3, 2: 0.55, 1: 0.65}[item.rating] * answer
        if rng.random() < share:
            item.comment = _say(rng, point, item.rating, item.categories)
        item.theme = (item.categories or [category or "其他"])[0]
    consent = {1: 0.3, 2: 0.25, 3: 0.08}.get(item.rating, 0.02)
    if item.comment and rng.random() < consent:
        item.contact = _contact(rng)
    return item


# -- the generator ----------------------------------------------------------------------------------------
@dataclass
class _World:
    rng: random.Random
    tz: object
    cal: _Calendar
    first: date
    today: date
    now: datetime
    clerks: dict[str, list[str]]  # department code → usernames (for praise and staff entries)
    bad_days: dict[str, date] = field(default_factory=dict)


def _nearest_workday(world: _World, around: date, weekdays=(1, 2, 3)) -> date:
    for offset in range(0, 30):
        for day in (around - timedelta(days=offset), around + timedelta(days=offset)):
            if world.first <= day < world.today and world.cal.workday(day) and day.weekday() in weekdays:
                return day
    return around


def _specials(world: _World, points: dict[str, PointSpec]) -> list[Item]:
    """The bad days' extra ratings and the tablet's offline afternoon."""
    rng, tz, today = world.rng, world.tz, world.today
    items: list[Item] = []
    outage = world.bad_days["outage"] = _nearest_workday(world, today - timedelta(days=38))
    hotline = world.bad_days["hotline"] = _nearest_workday(world, today - timedelta(days=97), weekdays=(0,))
    pension = world.bad_days["pension"] = _nearest_workday(world, today - timedelta(days=131), weekdays=(0, 1, 2, 3, 4))
    for _ in range(70):  # the core system is down from about 09:40 to 13:10; customers queue and leave
        local = _moment(rng, outage, points["CK01"].workday, tz, window=(9.6, 14.5))
        items.append(_customer_item(rng, points["CK01"], local, 14.0, bad=OUTAGE, bad_day="系统故障"))
    for _ in range(60):  # calls pile up after a mobile-banking upgrade
        local = _moment(rng, hotline, points["RX01"].workday, tz, window=(8.0, 18.0))
        items.append(_customer_item(rng, points["RX01"], local, 11.0, bad=HOTLINE_OVERLOAD, bad_day="热线拥堵"))
    for _ in range(40):  # pension day: the hall is full of elderly customers
        point = points["CK05"] if rng.random() < 0.5 else points["DT01"]
        local = _moment(rng, pension, point.workday, tz, window=(9.0, 12.5))
        items.append(_customer_item(rng, point, local, 8.0, bad=PENSION_DAY, bad_day="养老金"))
    # A tablet at the lobby desk lost the network one afternoon: 15 ratings were kept and sent at 16:52.
    offline = _nearest_workday(world, today - timedelta(days=24))
    sync = datetime.combine(offline, time(16, 52), tz)
    for index in range(15):
        point = points["DT01"]
        rated = _moment(rng, offline, point.workday, tz, window=(13.5, 16.8))
        item = _customer_item(rng, point, sync + timedelta(seconds=3 * index), 1.0)
        item.channel, item.staff, item.rated_local = TABLET, None, min(rated, sync)
        item.source = "10.8.4.21"
        items.append(item)
    return items


def _regular(world: _World, points: tuple[PointSpec, ...], count: int) -> list[Item]:
    rng, tz = world.rng, world.tz
    cells, cumulative, total = [], [], 0.0
    days = (world.today - world.first).days
    for index in range(days):
        day = world.first + timedelta(days=index)
        trend = 0.8 + 0.35 * index / days  # more customers find the QR codes as the months go by
        for point in points:
            weight = point.share * _day_factor(point, day, world.cal) * trend * rng.uniform(0.8, 1.2)
            if weight > 0:
                total += weight
                cells.append((day, point, index / days))
                cumulative.append(total)
    items = []
    for _ in range(count):
        day, point, progress = cells[bisect(cumulative, rng.random() * total)]
        local = _moment(rng, day, _hours(point, day, world.cal), tz)
        m = point.negative * (1.2 - 0.35 * progress)  # 差评 fall as the months go by
        m *= 1.35 if local.hour in (10, 11, 15) else 1.25 if local.hour == 12 else 1.0
        m *= 1.2 if day.weekday() == 0 else 1.0
        if day == world.bad_days["outage"] and point.code == "CK01":
            m *= 4
        items.append(_customer_item(rng, point, local, m))
    return items


def _spam(world: _World, points: dict[str, PointSpec], count: int) -> list[Item]:
    rng, tz = world.rng, world.tz
    items = []
    burst_day = _nearest_workday(world, world.today - timedelta(days=57), weekdays=(0, 1, 2, 3, 4, 5, 6))
    burst_start = datetime.combine(burst_day, time(2, 13), tz)
    for index in range(count):
        point = points[rng.choice(("ZZ01", "DT01", "CK01", "JD01"))]
        if index < 12:  # a bot at night: 12 forms from one address within four minutes
            local, source = burst_start + timedelta(seconds=20 * index + rng.randrange(15)), "45.155.205.17"
        else:
            day = world.first + timedelta(days=rng.randrange((world.today - world.first).days))
            local = _moment(rng, day, ((0.0, 24.0),), tz)
            source = f"103.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        comment = rng.choice(SPAM)
        reasons = [SPAM_HONEYPOT] if index < 12 or rng.random() < 0.6 else []
        if comment.count("http") >= 2:
            reasons.append(SPAM_LINKS)
        if not reasons:
            reasons = [SPAM_STALE_FORM]
        items.append(Item(point, point.department, local, KIOSK, rating=rng.choice((5, 1)), comment=comment,
                          spam=tuple(reasons), source=source))
    return items


def _staff_entries(world: _World, points: dict[str, PointSpec], names: dict[str, str], count: int) -> list[Item]:
    """Complaints, praise and suggestions that staff entered from other channels."""
    rng, tz = world.rng, world.tz
    channels = ("phone",) * 35 + ("hotline_12345",) * 20 + ("in_person",) * 15 + ("email",) * 10 + \
        ("social_media",) * 10 + ("letter",) * 10
    enterers = {"phone": ("zhengshi", "songjia", "tangwei"), "hotline_12345": ("head_hl", "zhouba", "hanmei"),
                "in_person": ("zhengshi", "sunqi"), "email": ("xiaoyu", "panwen"), "social_media": ("xiaoyu",),
                "letter": ("panwen", "zhengshi")}
    items = []
    for index in range(count):
        channel = rng.choice(channels)
        kind = rng.choices((COMPLAINT, PRAISE, SUGGESTION), (60, 30, 10))[0]
        day = world.first + timedelta(days=rng.randrange((world.today - world.first).days))
        while not world.cal.workday(day) and channel not in ("hotline_12345", "social_media"):
            day += timedelta(days=1)
        if day >= world.today:
            day = world.today - timedelta(days=1)
        local = _moment(rng, day, ((8.5, 12.0), (13.5, 17.5)), tz)
        happened = day - timedelta(days=rng.randint(0, 2))
        when = f"{happened.month}月{happened.day}日" + rng.choice(("上午", "下午", ""))
        if kind == COMPLAINT:
            fits, category, text = rng.choice(STAFF_COMPLAINTS)
            point = points[rng.choice(fits)] if fits else rng.choice(list(points.values()))
            body = "反映" + text
        elif kind == PRAISE:
            fits, text = rng.choice(STAFF_PRAISE)
            point = points[rng.choice(fits)] if fits else rng.choice(list(points.values()))
            category, body = "表扬", text
        else:
            point, category, body = (rng.choice(list(points.values())) if rng.random() < 0.5 else None), "建议", \
                rng.choice(STAFF_SUGGESTIONS)
        department = point.department if point is not None else "KF"
        clerk_pool = world.clerks.get(department) or [""]
        clerk = names.get(rng.choice(point.staff or tuple(clerk_pool)) if point is not None else "", "")
        body = body.format(when=when, point=point.name if point is not None else "营业厅", clerk=clerk)
        intro = STAFF_INTROS[channel]
        if channel == "hotline_12345":
            intro = f"【12345 工单 {day:%Y%m%d}{rng.randrange(1000, 9999)}】" + intro
        comment = intro + body
        contact = ("", "", "")
        if channel != "social_media" or rng.random() < 0.2:
            contact = _contact(rng, email=channel == "email")
        if kind != COMPLAINT and channel != "email" and rng.random() < 0.5:
            contact = ("", "", "")
        item = Item(point, department, local, channel, kind=kind, comment=comment, contact=contact,
                    categories=[category] if category not in ("表扬", "建议") else [], theme=category,
                    created_by=rng.choice(enterers[channel]))
        items.append(item)
    # the hotline overload brought 12345 work orders too
    for _ in range(6):
        local = _moment(rng, world.bad_days["hotline"], ((10.0, 17.5),), tz)
        items[rng.randrange(len(items))] = Item(
            points["RX01"], "KF-HL", local, "hotline_12345", kind=COMPLAINT, categories=["接通速度"], theme="热线拥堵",
            comment=f"【12345 工单 {local:%Y%m%d}{rng.randrange(1000, 9999)}】市民反映手机银行升级后无法转账，拨打客服热线一上午无法接通，要求尽快解决。",
            contact=_contact(rng), created_by="head_hl", bad_day="热线拥堵")
    return items


def _office_time(world: _World, moment: datetime) -> datetime:
    """``moment``, or 09:00–10:30 of the next working day when it falls outside office hours."""
    local = moment.astimezone(world.tz)
    if world.cal.workday(local.date()) and time(8, 30) <= local.time() <= time(18, 0):
        return local
    day = local.date() + timedelta(days=1 if local.time() > time(8, 30) else 0)
    while not world.cal.workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(9, 0), world.tz) + timedelta(minutes=world.rng.randrange(90))


def _answer(world: _World, item: Item) -> None:
    """Some items were answered, some resolved, and a few of those rated by the customer (the queues, issue 12,
    will do this for real)."""
    rng = world.rng
    if item.spam:
        return
    negative = item.rating is not None and item.rating <= NEGATIVE_MAX
    if negative or item.kind == COMPLAINT:
        chance, resolve = 0.75, 0.85
    elif item.kind == SUGGESTION:
        chance, resolve = 0.6, 1.0
    elif item.rating == 3 and item.comment:
        chance, resolve = 0.25, 1.0
    elif item.comment and (item.kind == PRAISE or item.rating == 5):
        chance, resolve = 0.12, 0.0
    else:
        return
    if rng.random() >= chance:
        return
    theme = item.theme if item.theme in REPLIES else "其他"
    if item.kind == PRAISE or (item.rating is not None and item.rating >= 4):
        theme = "表扬自助" if item.point is not None and item.point.theme == "selfservice" else "表扬"
    elif item.kind == SUGGESTION:
        theme = "建议"
    replied = _office_time(world, item.local + timedelta(hours=rng.uniform(1.5, 30)))
    if replied > world.now:
        return
    item.reply, item.replied = REPLIES[theme], replied
    if rng.random() < resolve:
        resolved = _office_time(world, replied + timedelta(hours=rng.choice((0.2, 3, 20, 48, 70))))
        if resolved <= world.now:
            item.resolved = resolved
            if rng.random() < 0.5:
                rated = resolved + timedelta(hours=rng.uniform(1, 40))
                if rated <= world.now:
                    item.resolution = rng.choices((5, 4, 3, 2, 1), (40, 30, 15, 10, 5))[0]
                    item.resolution_at = rated


def _showcase(world: _World, items: list[Item]) -> None:
    """Fix the state of the four items whose 查询码 the README gives."""
    today, used = world.today, set()

    def pick(condition):
        for item in reversed(items):
            if id(item) not in used and item.channel == KIOSK and not item.spam and item.comment and condition(item):
                used.add(id(item))
                return item
        return None

    def age(item):
        return (today - item.local.date()).days

    negative = lambda i: i.rating is not None and i.rating <= NEGATIVE_MAX  # noqa: E731
    for code, state in SHOWCASE:
        if state == "new":
            item = pick(lambda i: negative(i) and age(i) <= 3)
        elif state == "praise_replied":
            item = pick(lambda i: i.rating == 5 and 5 <= age(i) <= 20 and bool(i.point and i.point.staff))
        elif state == "resolved":
            item = pick(lambda i: negative(i) and 3 <= age(i) <= 10)
        else:
            item = pick(lambda i: negative(i) and 8 <= age(i) <= 30)
        if item is None:
            continue
        item.code = code
        item.reply, item.replied, item.resolved, item.resolution, item.resolution_at = "", None, None, None, None
        if state == "new":
            continue
        theme = "表扬" if state == "praise_replied" else (item.theme if item.theme in REPLIES else "其他")
        item.reply = REPLIES[theme]
        item.replied = _office_time(world, item.local + timedelta(hours=3))
        if state == "praise_replied":
            continue
        item.resolved = item.replied + timedelta(hours=2)
        if state == "resolved_rated":
            item.resolution, item.resolution_at = 4, item.resolved + timedelta(hours=5)


# -- into the database ------------------------------------------------------------------------------------
def _ensure_points(actor: User, depts: dict[str, Department], users: dict[str, User], since: datetime) -> tuple[dict, int]:
    """The demo points and staff codes, made through the services (audited) where missing."""
    from portal.processes.services import list_processes

    processes = {p.name: p.id for p in list_processes(active=True)}
    made, created = {}, 0
    for spec in POINTS:
        dept = depts.get(spec.department)
        if dept is None:
            continue
        point = services.point_by_code(spec.code)
        if point is None:
            point = services.create_point(actor, services.PointFields(
                code=spec.code, name=spec.name, location=spec.location, department_id=dept.id,
                process_id=processes.get(spec.process), opening_hours=spec.opening_hours,
                categories_text="\n".join(spec.categories)))
            point.created_at = point.updated_at = since
            created += 1
        have = {sc.user_id for sc in point.staff_codes}
        for username in spec.staff:
            user = users.get(username)
            if user is not None and user.active and user.id not in have:
                staff_code = services.add_staff_code(actor, point, user.id)
                staff_code.created_at = since
                created += 1
        made[spec.code] = point
    db.session.flush()
    return made, created


def _query_codes(count: int) -> list[str]:
    """The 查询码 of items 1…count: they depend on the item's number only."""
    rng = random.Random(f"{SEED}:query-codes")
    alphabet, length = codes.QUERY_ALPHABET, codes.QUERY_LENGTH
    out, seen = [], {code for code, _state in SHOWCASE}
    while len(out) < count:
        code = "".join(rng.choice(alphabet) for _ in range(length))
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def _rows(world: _World, items: list[Item], points: dict[str, object], user_ids: dict[str, int],
          dept_ids: dict[str, int], missing: set[str]) -> list[dict]:
    """Row dicts of the items whose key is ``missing`` (and whose point and department exist)."""
    purpose = services.consent_purpose()[:300]
    staff_codes = {(sc.service_point_id, sc.user_id): sc for sc in db.session.scalars(
        sa.select(StaffCode).where(StaffCode.active.is_(True),
                                   StaffCode.service_point_id.in_([p.id for p in points.values()])))}
    query_codes = _query_codes(len(items))
    rows = []
    hashes: dict[str, str] = {}
    for number, (item, generated) in enumerate(zip(items, query_codes), 1):
        key = f"{KEY_PREFIX}{number:05d}"
        if key not in missing:
            continue
        point = points.get(item.point.code) if item.point is not None else None
        if (item.point is not None and point is None) or (point is None and item.department not in dept_ids):
            continue  # its point or department is not there (a demo organisation changed by hand)
        code = item.code or generated
        staff_code = staff_codes.get((point.id, user_ids.get(item.staff))) if item.staff and point else None
        created = item.local
        rated = item.rated_local or created
        name, phone, email = item.contact
        has_contact = bool(phone or email)
        if item.source and item.source not in hashes:
            hashes[item.source] = codes.source_hash(item.source)
        rows.append({
            "channel": item.channel, "kind": item.kind,
            "service_point_id": point.id if point is not None else None,
            "department_id": point.department_id if point is not None else dept_ids[item.department],
            "staff_user_id": staff_code.user_id if staff_code is not None else None,
            "staff_code_id": staff_code.id if staff_code is not None else None,
            "rating": item.rating, "nps": item.nps, "categories": list(item.categories), "comment": item.comment,
            "contact_name": name if has_contact else "", "contact_phone": phone, "contact_email": email,
            "contact_consent_at": created if has_contact else None, "contact_purpose": purpose if has_contact else "",
            "query_code_digest": codes.query_code_digest(code), "query_code_sealed": codes.seal_query_code(code),
            "idempotency_key": key, "request_fingerprint": "",
            "status": RESOLVED if item.resolved else REPLIED if item.reply else NEW,
            "is_spam": bool(item.spam), "spam_reasons": ",".join(item.spam),
            "source_hash": hashes.get(item.source, "") if item.channel in (KIOSK, TABLET, DEVICE) else "",
            "reply": item.reply or "", "replied_at": item.replied, "resolved_at": item.resolved,
            "resolution_rating": item.resolution, "resolution_rated_at": item.resolution_at,
            "created_by_id": user_ids.get(item.created_by) if item.created_by else None,
            "api_token_id": None, "rated_at": rated, "created_at": created,
        })
    return rows


def _notify_latest(world: _World, inserted_keys: set[str]) -> int:
    """The department heads hear of the latest handful of 差评, as they would have at the time."""
    rows = list(db.session.scalars(
        sa.select(Feedback).where(Feedback.idempotency_key.like(f"{KEY_PREFIX}%"), Feedback.is_spam.is_(False),
                                  Feedback.rating <= NEGATIVE_MAX,
                                  Feedback.created_at >= world.now - timedelta(days=4))
        .order_by(Feedback.created_at.desc()).limit(NOTIFY_LATEST)))
    notified = 0
    for feedback in rows:
        if feedback.idempotency_key in inserted_keys:
            services._notify_department(feedback, now=feedback.created_at + timedelta(seconds=5))
            notified += 1
    return notified


def generate(now: datetime | None = None) -> tuple[_World, list[Item]]:
    """Every demo item, oldest first (no database writes; the departments' clerks are read)."""
    now = now or utcnow()
    tz = portal_tz()
    today = now.astimezone(tz).date()
    users = list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username)))
    depts = {d.id: d.code for d in db.session.scalars(sa.select(Department))}
    clerks: dict[str, list[str]] = {}
    for user in users:
        if user.department_id in depts:
            clerks.setdefault(depts[user.department_id], []).append(user.username)
    world = _World(random.Random(SEED), tz, _Calendar(), today - timedelta(days=DAYS), today, now, clerks)
    points = {p.code: p for p in POINTS}
    names = {u.username: u.display_name for u in users}
    specials = _specials(world, points)
    staff = _staff_entries(world, points, names, STAFF_ENTRIES)
    spam = _spam(world, points, SPAM_ROWS)
    regular = _regular(world, POINTS, TOTAL - len(specials) - len(staff) - len(spam))
    items = sorted(regular + specials + staff + spam, key=lambda i: (i.local, i.channel))
    for item in items:
        _answer(world, item)
    _showcase(world, items)
    return world, items


def seed(now: datetime | None = None) -> int:
    """Create whatever of the feedback demo is missing; return how many records were added. Nothing without the
    demo organisation (its departments and the quality manager ``quality``)."""
    actor = db.session.scalar(sa.select(User).where(User.username == "quality", User.active.is_(True)))
    if actor is None:
        return 0
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    depts = {d.code: d for d in db.session.scalars(sa.select(Department).where(Department.active.is_(True)))}
    now = now or utcnow()
    since = datetime.combine(now.astimezone(portal_tz()).date() - timedelta(days=DAYS + 14), time(9), portal_tz())
    point_rows, created = _ensure_points(actor, depts, users, since)
    have = set(db.session.scalars(sa.select(Feedback.idempotency_key).where(
        Feedback.idempotency_key.like(f"{KEY_PREFIX}%"))))
    missing = {f"{KEY_PREFIX}{n:05d}" for n in range(1, TOTAL + 1)} - have
    if missing and point_rows:
        world, items = generate(now)
        rows = _rows(world, items, point_rows, {u: v.id for u, v in users.items()},
                     {code: d.id for code, d in depts.items()}, missing)
        rows = _without_taken_codes(rows)
        if rows:
            # Core, not the ORM's bulk insert: that one leaves out None values and so splits the rows into
            # thousands of statements by which columns are empty; this is one executemany.
            db.session.execute(sa.insert(Feedback.__table__), rows)
            inserted = {r["idempotency_key"] for r in rows}
            _notify_latest(world, inserted)
            first = min(r["created_at"] for r in rows).astimezone(world.tz).date()
            last = max(r["created_at"] for r in rows).astimezone(world.tz).date()
            record("feedback.seed_demo", actor=actor, object_type="feedback", ip="", extra={
                "title": "演示数据：客户意见", "items": len(rows), "spam": sum(1 for r in rows if r["is_spam"]),
                "period": f"{first:%Y-%m-%d} – {last:%Y-%m-%d}", "via": "seed-demo"})
            created += len(rows)
    db.session.commit()
    return created


def _without_taken_codes(rows: list[dict]) -> list[dict]:
    """Leave out (never overwrite) an item whose 查询码 another row already has: astronomically unlikely, but the
    column is unique."""
    digests = [r["query_code_digest"] for r in rows]
    taken: set[str] = set()
    for start in range(0, len(digests), 500):
        taken |= set(db.session.scalars(sa.select(Feedback.query_code_digest).where(
            Feedback.query_code_digest.in_(digests[start:start + 500]))))
    return [r for r in rows if r["query_code_digest"] not in taken] if taken else rows
