"""月度排名通报 on a hand-computed October 2025: ratings inside and outside the month (at the local midnight
boundaries), a spam rating (flagged at intake) and one flagged in the queue, an upheld appeal left out, a point with
4 ratings showing 样本不足 and ranking last, 差评 counts, 整改率, SLA compliance (met, missed, waiting in time, resolved
while waiting, closed, open past its deadline); who sees the clerks; the page, bad months, the PDF; and a query
count that does not grow with the number of points."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from portal.core.errors import PermissionDenied
from portal.core.roles import ADMIN, EMPLOYEE
from portal.extensions import db
from portal.feedback import access as feedback_access
from portal.feedback import services as feedback_services
from portal.feedback.models import Feedback
from portal.triage import loop, ranking, services
from portal.triage.models import AWAITING_CUSTOMER, CLOSED, IN_PROGRESS, MALICIOUS, RESOLVED, Ticket, TicketPause
from tests.helpers import DEFAULT_PASSWORD, HX, SHANGHAI, count_queries, text
from tests.triage.helpers import point, ticket_of

OCTOBER = ranking.Month(2025, 10)
#: The service's "now" in the fixture's tests: long after October 2025.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=SHANGHAI)


def local(month, day, hour=10, minute=0, year=2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def give(service_point, rating: int, at: datetime, *, staff_code=None, spam: bool = False) -> Ticket:
    """A kiosk rating given at ``at`` (a tablet's own time), its ticket received then too."""
    received = feedback_services.receive(
        feedback_services.Submission(rating=rating),
        feedback_services.Intake(channel="kiosk", idempotency_key=feedback_services.new_request_key(),
                                 point=service_point, staff_code=staff_code, rated_at=at,
                                 spam_reasons=("honeypot",) if spam else ()))
    ticket = ticket_of(received.feedback)
    ticket.received_at = at
    ticket.rectification_due_on = None  # set where a test needs one
    ticket.resolution_due_at = None
    db.session.flush()
    return ticket


def handled(ticket: Ticket, due: datetime, *, status: str = RESOLVED, resolved: datetime | None = None,
            closed: datetime | None = None, paused: datetime | None = None) -> None:
    """The ticket's SLA columns as the lifecycle leaves them (written directly: the dates are in the past)."""
    ticket.resolution_due_at, ticket.status = due, status
    ticket.resolved_at, ticket.closed_at = resolved, closed
    ticket.paused_at = paused if status == AWAITING_CUSTOMER else None
    db.session.flush()


@pytest.fixture
def october(org, make_user):
    """KF01 (客服部): 6 ratings counted — 5 5 4 3 2 1 → CSAT 50.0 %, 2 差评 — besides a spam rating, one flagged
    spam in the queue, a 1 whose appeal was upheld, one of 2025-09-30 23:30 and one of November.
    KF02 (客服部): 5 counted — 5 5 5 4 2, the last at 2025-10-31 23:30 local → 80.0 %, 1 差评 — and a 1 at
    2025-11-01 00:10 local (still October in UTC) left out.
    YY01 (运营部): 4 ratings of 5 → 样本不足.
    Clerks: kf_clerk (客服部) took KF01's 5 5 4 3 2 (60.0 %), yy_clerk (运营部) YY01's four."""
    kf01, kf02, yy01 = point(org, "KF01", "KF"), point(org, "KF02", "KF"), point(org, "YY01", "YY")
    kf_clerk = make_user("kf_clerk", roles=(EMPLOYEE,), department=org.depts["KF"], display_name="客服柜员甲")
    yy_clerk = make_user("yy_clerk", roles=(EMPLOYEE,), department=org.depts["YY"], display_name="运营柜员乙")
    kf_code = feedback_services.add_staff_code(org.qm, kf01, kf_clerk.id)
    yy_code = feedback_services.add_staff_code(org.qm, yy01, yy_clerk.id)
    t = {}
    for n, rating in enumerate((5, 5, 4, 3, 2), start=1):
        t[f"kf01_{n}"] = give(kf01, rating, local(10, n + 1), staff_code=kf_code)
    t["kf01_6"] = give(kf01, 1, local(10, 8))
    t["kf01_spam"] = give(kf01, 1, local(10, 9), spam=True)
    t["kf01_queue_spam"] = give(kf01, 1, local(10, 9, 11))
    services.set_spam(org.heads["KF"], t["kf01_queue_spam"].id, True)
    t["kf01_upheld"] = give(kf01, 1, local(10, 10))
    appeal = loop.file_appeal(org.heads["KF"], t["kf01_upheld"].id, grounds=MALICIOUS, reason="同一号码反复恶意差评")
    loop.decide_appeal(org.qm, appeal.id, uphold=True, note="核实为恶意", password=DEFAULT_PASSWORD)
    t["kf01_sep"] = give(kf01, 5, local(9, 30, 23, 30))
    t["kf01_nov"] = give(kf01, 5, local(11, 1, 9))
    for n, rating in enumerate((5, 5, 5, 4), start=1):
        t[f"kf02_{n}"] = give(kf02, rating, local(10, 20 + n))
    t["kf02_5"] = give(kf02, 2, local(10, 31, 23, 30))
    t["kf02_nov"] = give(kf02, 1, local(11, 1, 0, 10))
    for n in range(1, 5):
        t[f"yy01_{n}"] = give(yy01, 5, local(10, 5 + n), staff_code=yy_code)

    # 整改: KF01's 2 rectified in time, its 1 late; KF02's 2 not at all; the upheld and the queue-spam ones left out.
    for key, due, done in (("kf01_5", date(2025, 10, 20), local(10, 18)), ("kf01_6", date(2025, 10, 22), local(10, 23)),
                           ("kf02_5", date(2025, 10, 30), None), ("kf01_upheld", date(2025, 10, 15), None),
                           ("kf01_queue_spam", date(2025, 10, 16), None), ("kf02_nov", date(2025, 11, 7), None)):
        t[key].rectification_due_on, t[key].rectified_at = due, done
    # SLA, KF01: met; missed; awaiting the customer since before its deadline (not judged); resolved while awaiting
    # the customer, who was asked before the deadline (met); open past its deadline (missed). The spam one is left out.
    handled(t["kf01_1"], local(10, 10), resolved=local(10, 10, 9))
    handled(t["kf01_2"], local(10, 12), resolved=local(10, 13))
    handled(t["kf01_3"], local(10, 14), status=AWAITING_CUSTOMER, paused=local(10, 13))
    handled(t["kf01_4"], local(10, 15), resolved=local(10, 20))
    db.session.add(TicketPause(ticket_id=t["kf01_4"].id, paused_at=local(10, 14), resumed_at=local(10, 20)))
    handled(t["kf01_6"], local(10, 16), status=IN_PROGRESS)
    handled(t["kf01_queue_spam"], local(10, 11), status=IN_PROGRESS)
    # KF02: closed before its deadline without a resolution (met); one due in November (left out).
    handled(t["kf02_1"], local(10, 5), status=CLOSED, closed=local(10, 4))
    handled(t["kf02_2"], local(11, 2), status=IN_PROGRESS)
    # YY01: met, missed.
    handled(t["yy01_1"], local(10, 8), resolved=local(10, 8, 9))
    handled(t["yy01_2"], local(10, 9), resolved=local(10, 9, 11))
    db.session.commit()
    return dict(org=org, kf01=kf01, kf02=kf02, yy01=yy01, kf_clerk=kf_clerk, yy_clerk=yy_clerk, tickets=t)


def rows_by_name(rows):
    return {row.name: row for row in rows}


# -- the figures ----------------------------------------------------------------------------------
def test_the_figures_of_october(october):
    org = october["org"]
    board = ranking.ranking(org.qm, OCTOBER, now=NOW)
    points = rows_by_name(board.points)
    kf01, kf02, yy01 = points["KF01 KF01 窗口"], points["KF02 KF02 窗口"], points["YY01 YY01 窗口"]
    assert (kf01.ratings, kf01.satisfied, kf01.csat, kf01.negative_count) == (6, 3, 50.0, 2)
    assert (kf02.ratings, kf02.satisfied, kf02.csat, kf02.negative_count) == (5, 4, 80.0, 1)
    assert (yy01.ratings, yy01.enough, yy01.csat, yy01.negative_count) == (4, False, None, None)
    assert (kf01.rectified, kf01.rectification_due, kf01.rectification_rate) == (1, 2, 50.0)
    assert (kf02.rectified, kf02.rectification_due, kf02.rectification_rate) == (0, 1, 0.0)
    assert (yy01.rectification_due, yy01.rectification_rate) == (0, None)
    assert (kf01.sla_met, kf01.sla_due, kf01.sla_rate) == (2, 4, 50.0)
    assert (kf02.sla_met, kf02.sla_due, kf02.sla_rate) == (1, 1, 100.0)
    assert (yy01.sla_met, yy01.sla_due, yy01.sla_rate) == (1, 2, 50.0)
    departments = rows_by_name(board.departments)
    kf, yy = departments["客服部"], departments["运营部"]
    assert (kf.ratings, kf.satisfied, kf.csat, kf.negative_count) == (11, 7, 63.6, 3)
    assert (kf.rectified, kf.rectification_due, kf.rectification_rate) == (1, 3, 33.3)
    assert (kf.sla_met, kf.sla_due, kf.sla_rate) == (3, 5, 60.0)
    assert (yy.ratings, yy.csat, yy.sla_rate) == (4, None, 50.0)
    # Departments without an active service point are not listed.
    assert set(departments) == {"客服部", "运营部"}


def test_the_ratings_agree_with_satisfaction_and_upheld_feedback_ids(october):
    """The grouped query applies satisfaction()'s rules with upheld_feedback_ids() left out, as the CAPA check
    does (the queue's spam flag, which satisfaction() does not read, aside)."""
    org, kf02 = october["org"], october["kf02"]
    excluded = services.upheld_feedback_ids(OCTOBER.start, OCTOBER.end, point_ids=[kf02.id])
    assert feedback_services.satisfaction(OCTOBER.start, OCTOBER.end, point_ids=[kf02.id], exclude_ids=excluded) == (
        80.0, 5)
    row = rows_by_name(ranking.ranking(org.qm, OCTOBER, now=NOW).points)["KF02 KF02 窗口"]
    assert (row.csat, row.ratings) == (80.0, 5)
    # KF01: satisfaction() leaves out the upheld appeal, yet counts the rating flagged spam in the queue only.
    kf01 = october["kf01"]
    excluded = services.upheld_feedback_ids(OCTOBER.start, OCTOBER.end, point_ids=[kf01.id])
    assert excluded == [october["tickets"]["kf01_upheld"].feedback_id]
    assert feedback_services.satisfaction(OCTOBER.start, OCTOBER.end, point_ids=[kf01.id], exclude_ids=excluded)[1] == 7
    assert rows_by_name(ranking.ranking(org.qm, OCTOBER, now=NOW).points)["KF01 KF01 窗口"].ratings == 6


def test_the_order_and_the_ranks(october):
    org = october["org"]
    by_csat = ranking.ranking(org.qm, OCTOBER, now=NOW)
    assert [(r.name, r.ranks["csat"]) for r in by_csat.points] == [
        ("KF02 KF02 窗口", 1), ("KF01 KF01 窗口", 2), ("YY01 YY01 窗口", None)]  # 样本不足 last, unranked
    assert [(r.name, r.ranks["csat"]) for r in by_csat.departments] == [("客服部", 1), ("运营部", None)]
    by_negative = ranking.ranking(org.qm, OCTOBER, ranking.NEGATIVE, now=NOW)
    assert [(r.name, r.ranks["negative"]) for r in by_negative.points] == [
        ("KF02 KF02 窗口", 1), ("KF01 KF01 窗口", 2), ("YY01 YY01 窗口", None)]  # fewest first
    by_rectification = ranking.ranking(org.qm, OCTOBER, ranking.RECTIFICATION, now=NOW)
    assert [(r.name, r.ranks["rectification"]) for r in by_rectification.points] == [
        ("KF01 KF01 窗口", 1), ("KF02 KF02 窗口", 2), ("YY01 YY01 窗口", None)]  # none due: last
    by_sla = ranking.ranking(org.qm, OCTOBER, ranking.SLA, now=NOW)
    # A tie at 50 % shares rank 2; the larger sample (4 due) is listed first.
    assert [(r.name, r.ranks["sla"]) for r in by_sla.points] == [
        ("KF02 KF02 窗口", 1), ("KF01 KF01 窗口", 2), ("YY01 YY01 窗口", 2)]
    assert [(r.name, r.ranks["sla"]) for r in by_sla.departments] == [("客服部", 1), ("运营部", 2)]
    assert ranking.ranking(org.qm, OCTOBER, "nonsense", now=NOW).sort == ranking.CSAT


def test_the_month_under_way_counts_what_is_due_so_far(october):
    org = october["org"]
    # On 2025-10-13 at noon: KF01's rectification due 10-20 is not judged yet; of its SLA deadlines only 10-10
    # (met) and 10-12 (missed) have passed.
    board = ranking.ranking(org.qm, OCTOBER, now=local(10, 13, 12))
    assert board.under_way
    kf01 = rows_by_name(board.points)["KF01 KF01 窗口"]
    assert (kf01.rectification_due, kf01.sla_met, kf01.sla_due) == (0, 1, 2)
    assert not ranking.ranking(org.qm, OCTOBER, now=NOW).under_way


# -- the month -------------------------------------------------------------------------------------
def test_months_are_parsed_and_the_default_is_the_last_complete_month(app):
    today = date(2026, 1, 15)
    assert ranking.default_month(today) == ranking.Month(2025, 12)
    assert ranking.parse_month("", today) == (ranking.Month(2025, 12), None)
    assert ranking.parse_month("2025-10", today) == (OCTOBER, None)
    assert ranking.parse_month("2026-01", today) == (ranking.Month(2026, 1), None)  # under way: allowed
    for bad in ("2025-13", "abc", "2025-1-1", "1999-05", "9" * 500, "2025-00"):
        month, problem = ranking.parse_month(bad, today)
        assert month == ranking.Month(2025, 12) and problem
    month, problem = ranking.parse_month("2026-02", today)
    assert month == ranking.Month(2025, 12) and problem
    assert OCTOBER.start == datetime(2025, 10, 1, tzinfo=SHANGHAI)
    assert OCTOBER.end == datetime(2025, 11, 1, tzinfo=SHANGHAI)
    assert ranking.Month(2025, 12).next == ranking.Month(2026, 1) and ranking.Month(2026, 1).previous.key == "2025-12"


# -- who sees the clerks ---------------------------------------------------------------------------
def test_clerks_only_for_their_head_and_the_quality_manager(october, make_user):
    org = october["org"]
    assert ranking.ranking(org.employee, OCTOBER, now=NOW).staff is None
    assert ranking.ranking(org.kf_member, OCTOBER, now=NOW).staff is None
    admin = make_user("ranking_admin", roles=(ADMIN,), department=org.depts["ZH"])
    assert ranking.ranking(admin, OCTOBER, now=NOW).staff is None  # feedback.access.may_see_staff: not admins
    head_kf = ranking.ranking(org.heads["KF"], OCTOBER, now=NOW)
    assert [(r.name, r.ratings, r.csat, r.negative_count) for r in head_kf.staff] == [("客服柜员甲", 5, 60.0, 1)]
    assert [r.name for r in ranking.ranking(org.heads["YY"], OCTOBER, now=NOW).staff] == ["运营柜员乙"]
    assert ranking.ranking(org.heads["ZH"], OCTOBER, now=NOW).staff == []  # heads a department with no clerk rated
    qm = ranking.ranking(org.qm, OCTOBER, now=NOW)
    assert qm.staff_all and [(r.name, r.csat) for r in qm.staff] == [("客服柜员甲", 60.0), ("运营柜员乙", None)]
    assert all(r.ranks["rectification"] is None and r.ranks["sla"] is None for r in qm.staff)
    # The same rule as a single rating's: feedback.access.may_see_staff.
    kf_rating = db.session.get(Feedback, october["tickets"]["kf01_1"].feedback_id)
    yy_rating = db.session.get(Feedback, october["tickets"]["yy01_1"].feedback_id)
    for user, sees in ((org.heads["KF"], {"客服柜员甲"}), (org.heads["YY"], {"运营柜员乙"}), (admin, set()),
                       (org.employee, set()), (org.qm, {"客服柜员甲", "运营柜员乙"})):
        by_rule = {f.staff_user.display_name for f in (kf_rating, yy_rating) if feedback_access.may_see_staff(user, f)}
        board = ranking.ranking(user, OCTOBER, now=NOW)
        assert {r.name for r in board.staff or []} == by_rule == sees


def test_an_inactive_user_reads_nothing(october):
    org = october["org"]
    org.employee.active = False
    with pytest.raises(PermissionDenied):
        ranking.ranking(org.employee, OCTOBER)


# -- the page -------------------------------------------------------------------------------------
def test_every_employee_sees_points_and_departments_but_no_clerk(october, client_for):
    org = october["org"]
    page = client_for(org.employee).get("/ranking/?month=2025-10")
    body = text(page)
    assert page.status_code == 200
    assert "KF02 KF02 窗口" in body and "客服部" in body and "样本不足" in body and "80.0%" in body
    assert "客服柜员甲" not in body and "运营柜员乙" not in body
    assert 'value="2025-10"' in body and "月度排名" in body


def test_a_head_sees_their_own_clerks_only_and_the_quality_manager_all(october, client_for):
    org = october["org"]
    head = text(client_for(org.heads["KF"]).get("/ranking/?month=2025-10"))
    assert "客服柜员甲" in head and "运营柜员乙" not in head
    qm = text(client_for(org.qm).get("/ranking/?month=2025-10&sort=sla"))
    assert "客服柜员甲" in qm and "运营柜员乙" in qm


def test_the_partial_and_bad_months(october, client_for):
    org = october["org"]
    client = client_for(org.employee)
    partial = client.get("/ranking/?month=2025-10&sort=negative", headers=HX)
    assert partial.status_code == 200 and 'id="ranking"' in text(partial) and "<html" not in text(partial)
    for bad in ("abc", "2025-13", "2999-01", "2025-1x", "2025-10-01", "-1"):
        page = client.get(f"/ranking/?month={bad}&sort=zzz")
        assert page.status_code == 200, bad
        assert "显示" in text(page), bad  # the Chinese message, and the default month shown instead


def test_the_nav_entry(october, client_for):
    assert "/ranking/" in text(client_for(october["org"].employee).get("/"))


# -- the PDF --------------------------------------------------------------------------------------
def test_the_pdf_carries_the_month_and_no_clerk(october, client_for):
    from pypdf import PdfReader

    org = october["org"]
    response = client_for(org.qm).get("/ranking/ranking.pdf?month=2025-10")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "ranking-2025-10.pdf" in response.headers["Content-Disposition"]
    content = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    flat = "".join(content.split())
    assert "2025年10月" in flat and "KF02" in flat and "客服部" in flat and "样本不足" in flat
    assert "客服柜员甲" not in flat and "运营柜员乙" not in flat


def test_a_bad_month_for_the_pdf_is_a_message(october, client_for):
    client = client_for(october["org"].employee)
    response = client.get("/ranking/ranking.pdf?month=nope")
    assert response.status_code in (302, 303) and response.headers["Location"].endswith("/ranking/")


# -- queries ----------------------------------------------------------------------------------------
def _more_points(org, prefix: str, n: int) -> None:
    for i in range(n):
        extra = point(org, f"{prefix}{i:02d}", "YY" if i % 2 else "KF")
        give(extra, 4, local(10, 3 + i % 20))
        ticket = give(extra, 1, local(10, 4 + i % 20))
        ticket.rectification_due_on = date(2025, 10, 28)
        handled(ticket, local(10, 25), resolved=local(10, 24))
    db.session.commit()


def test_the_queries_do_not_grow_with_the_points(october, make_user):
    org = october["org"]
    ranking.ranking(org.qm, OCTOBER, now=NOW)  # loads the actor and their roles, as a request has
    with count_queries() as before:
        first = ranking.ranking(org.qm, OCTOBER, now=NOW)
    _more_points(org, "ZZ", 6)
    ranking.ranking(org.qm, OCTOBER, now=NOW)
    with count_queries() as after:
        second = ranking.ranking(org.qm, OCTOBER, now=NOW)
    assert len(second.points) == len(first.points) + 6
    assert len(after) == len(before) <= 10
    ranking.ranking(org.heads["KF"], OCTOBER, now=NOW)
    with count_queries() as head:
        ranking.ranking(org.heads["KF"], OCTOBER, now=NOW)
    assert len(head) <= 10
