"""The 差评 closed loop after the call-back: the rectification deadline in working days (weekends, National Day
2025 and its 调休 Saturday), the rectification with evidence checked by content, appeals decided by e-signature,
the loop's KPIs leaving upheld appeals out (and keeping them in the audit trail), and department isolation."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.esign.models import Signature
from portal.esign.services import SignatureRejected
from portal.extensions import db
from portal.objectives.registry import get_metric
from portal.triage import loop, services
from portal.triage.models import (APPEAL_PENDING, APPEAL_REJECTED, APPEAL_UPHELD, MALICIOUS, MISTAKEN, Appeal,
                                  Ticket, TicketFile)
from tests.helpers import DEFAULT_PASSWORD, SHANGHAI, audit, count
from tests.triage.helpers import point, rate

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def local(year, month, day, hour=10, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# -- the deadline -------------------------------------------------------------------------------------
@pytest.mark.parametrize("given, due", [
    (local(2025, 11, 17), date(2025, 11, 24)),          # a Monday: the next Monday
    (local(2025, 11, 15), date(2025, 11, 21)),          # a Saturday: counting starts on Monday
    (local(2025, 11, 16, 23, 50), date(2025, 11, 21)),  # a Sunday night
    (local(2025, 9, 26), date(2025, 10, 10)),           # Fri before National Day: 9-28 (调休 Sunday) counts
    (local(2025, 9, 29, 23, 30), date(2025, 10, 13)),   # 10-01..08 off, the 调休 Saturday 10-11 counts
    (local(2025, 9, 30, 0, 30), date(2025, 10, 14)),
    (local(2025, 10, 3), date(2025, 10, 14)),           # given in the holiday
])
def test_the_rectification_deadline_counts_working_days(app, given, due):
    assert loop.rectification_due(given) == due


def test_the_deadline_uses_the_local_day_and_the_setting(app, monkeypatch):
    # 2025-09-29 16:30 UTC is already 09-30 in Shanghai; 15:30 UTC is still 09-29.
    assert loop.rectification_due(datetime(2025, 9, 29, 15, 30, tzinfo=UTC)) == date(2025, 10, 13)
    assert loop.rectification_due(datetime(2025, 9, 29, 16, 30, tzinfo=UTC)) == date(2025, 10, 14)
    monkeypatch.setitem(app.config, "PORTAL_TRIAGE_RECTIFY_DAYS", 15)
    assert loop.rectification_due(local(2025, 9, 30)) == date(2025, 10, 28)
    monkeypatch.setitem(app.config, "PORTAL_TRIAGE_RECTIFY_DAYS", 40)  # at most 15
    assert loop.rectify_days() == 15
    monkeypatch.setitem(app.config, "PORTAL_TRIAGE_RECTIFY_DAYS", 1)
    assert loop.rectification_due(local(2025, 10, 10)) == date(2025, 10, 11)  # the 调休 Saturday


def test_a_calendar_override_moves_the_deadline(app, make_user):
    from portal.core.roles import ADMIN
    from portal.workcal.services import set_override

    assert loop.rectification_due(local(2025, 11, 17)) == date(2025, 11, 24)
    set_override(make_user("cal_admin", roles=(ADMIN,)), date(2025, 11, 20), False, "停电")
    assert loop.rectification_due(local(2025, 11, 17)) == date(2025, 11, 25)


def test_a_negative_ticket_opens_with_its_deadline(org):
    kf = point(org, "KF10", "KF")
    bad = rate(kf, 1)
    assert bad.rectification_due_on == loop.rectification_due(bad.received_at)
    assert bad.rectification_due_on > bad.received_at.astimezone(SHANGHAI).date()
    assert rate(kf, 3).rectification_due_on is None


# -- rectification ---------------------------------------------------------------------------------
def test_rectification_with_evidence_and_overdue(org):
    ticket = rate(point(org, "KF11", "KF"), 2)
    member = org.kf_member
    assert not loop.is_overdue(ticket, today=ticket.rectification_due_on)
    assert loop.is_overdue(ticket, today=ticket.rectification_due_on + timedelta(days=1))
    with pytest.raises(ServiceError) as refused:
        loop.record_rectification(member, ticket.id, "  ")
    assert refused.value.errors[0][0] == "note"
    with pytest.raises(ServiceError) as refused:  # an executable named .pdf
        loop.record_rectification(member, ticket.id, "已培训窗口人员", uploads=[("证据.pdf", b"MZ\x90\x00" * 10)])
    assert refused.value.errors[0][0] == "files"
    assert count(TicketFile) == 0 and ticket.rectified_at is None
    loop.record_rectification(member, ticket.id, "已培训窗口人员", uploads=[("整改记录.pdf", PDF), ("现场.png", png())])
    assert ticket.rectified_at is not None and ticket.rectification_note == "已培训窗口人员"
    assert not loop.is_overdue(ticket, today=ticket.rectification_due_on + timedelta(days=30))
    files = loop.evidence_of(member, ticket.id)
    assert [(f.display_name, f.mime_type, f.purpose) for f in files] == [
        ("整改记录.pdf", "application/pdf", "rectify"), ("现场.png", "image/png", "rectify")]
    assert all(len(f.stored_name) == 32 and f.stored_name not in f.display_name for f in files)
    row, data = loop.evidence_file(member, files[1].id)
    assert (row.id, data) == (files[1].id, png())
    first = ticket.rectified_at
    loop.record_rectification(org.heads["KF"], ticket.id, "已培训并调整排班")  # the note is updated, the time kept
    assert ticket.rectified_at == first and ticket.rectification_note == "已培训并调整排班"
    loop.add_evidence(member, ticket.id, [("签到表.jpg", PDF)])
    assert count(TicketFile) == 3
    assert [e.action for e in audit(obj=ticket) if e.action.startswith("triage.")][-3:] == [
        "triage.rectify", "triage.rectify", "triage.evidence"]
    with pytest.raises(ServiceError):  # a rating that is not a 差评 has no rectification
        loop.record_rectification(member, rate(point(org, "KF12", "KF"), 4).id, "无")


def test_a_late_rectification_is_overdue(org):
    ticket = rate(point(org, "KF13", "KF"), 1)
    ticket.rectification_due_on = date(2025, 10, 10)
    db.session.flush()
    loop.record_rectification(org.kf_member, ticket.id, "补做整改")
    assert loop.is_overdue(ticket)


# -- appeals ----------------------------------------------------------------------------------------
def test_who_may_appeal_and_one_pending_at_a_time(org):
    ticket = rate(point(org, "KF14", "KF"), 1, comment="乱评")
    with pytest.raises(PermissionDenied):  # a member works the ticket but does not appeal
        loop.file_appeal(org.kf_member, ticket.id, grounds=MISTAKEN, reason="误触")
    with pytest.raises(ServiceError) as refused:
        loop.file_appeal(org.heads["KF"], ticket.id, grounds="unfair", reason=" ")
    assert {field for field, _ in refused.value.errors} == {"grounds", "reason"}
    appeal = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MALICIOUS, reason="同一号码一小时内连续差评",
                              uploads=[("监控截图.png", png())])
    assert (appeal.status, ticket.appeal_status) == (APPEAL_PENDING, APPEAL_PENDING)
    assert [f.appeal_id for f in loop.evidence_of(org.heads["KF"], ticket.id)] == [appeal.id]
    with pytest.raises(ServiceError):
        loop.file_appeal(org.qm, ticket.id, grounds=MISTAKEN, reason="再申诉")
    assert count(Appeal) == 1


def test_a_wrong_password_decides_nothing(org):
    ticket = rate(point(org, "KF15", "KF"), 1)
    appeal = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MISTAKEN, reason="客户选错了")
    with pytest.raises(PermissionDenied):  # the head filed it; only a quality manager decides
        loop.decide_appeal(org.heads["KF"], appeal.id, uphold=True, note="同意", password=DEFAULT_PASSWORD)
    with pytest.raises(SignatureRejected):
        loop.decide_appeal(org.qm, appeal.id, uphold=True, note="同意", password="wrong")
    db.session.expire_all()
    assert (appeal.status, appeal.decided_by_id, appeal.signature_id) == (APPEAL_PENDING, None, None)
    assert db.session.get(Ticket, ticket.id).appeal_status == APPEAL_PENDING
    assert count(Signature) == 0 and audit("esign.failed") and not audit("triage.appeal_decide")


def test_a_rejected_appeal_can_be_followed_by_another(org):
    ticket = rate(point(org, "KF16", "KF"), 2)
    first = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MISTAKEN, reason="误评")
    loop.decide_appeal(org.qm, first.id, uphold=False, note="评价属实", password=DEFAULT_PASSWORD)
    assert (first.status, ticket.appeal_status) == (APPEAL_REJECTED, APPEAL_REJECTED)
    with pytest.raises(Conflict):
        loop.decide_appeal(org.qm, first.id, uphold=True, note="改判", password=DEFAULT_PASSWORD)
    second = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MALICIOUS, reason="补充证据")
    assert second.id != first.id and ticket.appeal_status == APPEAL_PENDING
    assert [a.status for a in loop.pending_appeals(org.qm)] == [APPEAL_PENDING]
    with pytest.raises(PermissionDenied):
        loop.pending_appeals(org.heads["KF"])


def _in_period(ticket: Ticket, received: datetime) -> None:
    ticket.received_at = received
    ticket.rectification_due_on = loop.rectification_due(received)
    db.session.flush()


def test_an_upheld_appeal_leaves_the_rating_out_of_the_kpis_and_in_the_audit_trail(org):
    kf = point(org, "KF17", "KF")
    dept = org.depts["KF"].id
    head = org.heads["KF"]
    tickets = [rate(kf, 1, contact="13800138000", consent=True) for _ in range(3)]
    for ticket in tickets:
        _in_period(ticket, local(2025, 10, 13, 10))  # due 2025-10-20
    # Only the first is called back and rectified in time.
    services.record_callback(head, tickets[0].id, called_at=utcnow(), outcome="reached", note="已致歉")
    loop.record_rectification(head, tickets[0].id, "已整改")
    tickets[0].rectified_at = local(2025, 10, 17, 16)
    db.session.flush()
    period = (date(2025, 10, 1), date(2025, 10, 31))
    assert loop.callback_counts(*period, dept) == (1, 3)
    assert loop.rectification_counts(*period, dept) == (1, 3)
    assert loop.callback_rate(*period, dept) == pytest.approx(33.3)
    assert loop.callback_rate(*period, org.depts["YY"].id) is None  # nothing in that queue

    appeal = loop.file_appeal(head, tickets[1].id, grounds=MALICIOUS, reason="竞争对手恶意差评")
    assert loop.callback_counts(*period, dept) == (1, 3)  # pending: still counted
    loop.decide_appeal(org.qm, appeal.id, uphold=True, note="监控证实恶意", password=DEFAULT_PASSWORD)
    assert tickets[1].appeal_status == APPEAL_UPHELD
    assert loop.callback_counts(*period, dept) == (1, 2)
    assert loop.rectification_counts(*period, dept) == (1, 2)
    metrics = {key: get_metric(key) for key in (loop.CALLBACK_METRIC, loop.RECTIFY_METRIC)}
    assert all(m.per_department for m in metrics.values())
    assert metrics[loop.CALLBACK_METRIC].compute(*period, dept) == 50.0
    assert metrics[loop.RECTIFY_METRIC].compute(*period, dept) == 50.0
    # Still visible, with its history, and in the audit trail with the signature.
    assert db.session.get(Ticket, tickets[1].id).feedback.rating == 1
    assert services.get_ticket(head, tickets[1].id).appeal_status == APPEAL_UPHELD
    decided = audit("triage.appeal_decide", obj=tickets[1])
    assert len(decided) == 1 and decided[0].summary["after"] == {"appeal_status": APPEAL_UPHELD}
    signature = db.session.get(Signature, appeal.signature_id)
    assert (signature.meaning, signature.object_type, signature.signer_id) == (
        "appeal_decision", "ticket_appeal", org.qm.id)
    assert decided[0].summary["signature_id"] == signature.id
    signed = audit("esign.sign", obj=signature)
    assert [(e.summary["object_type"], e.summary["object_id"]) for e in signed] == [("ticket_appeal", str(appeal.id))]
    assert [e.action for e in audit(obj=tickets[1]) if e.action.startswith("triage.appeal")] == [
        "triage.appeal", "triage.appeal_decide"]
    # A rejected appeal leaves the rating in.
    other = loop.file_appeal(head, tickets[2].id, grounds=MISTAKEN, reason="误评")
    loop.decide_appeal(org.qm, other.id, uphold=False, note="证据不足", password=DEFAULT_PASSWORD)
    assert loop.callback_counts(*period, dept) == (1, 2)
    # Rate-visible: KF filed two, one upheld.
    rates = {r.department_id: r for r in loop.appeal_rates()}
    assert (rates[dept].filed, rates[dept].upheld, rates[dept].upheld_share) == (2, 1, 0.5)
    assert loop.appeal_rates(date(2000, 1, 1), date(2000, 1, 2)) == []


def test_the_kpis_count_the_period_and_the_department(org):
    kf, yy = point(org, "KF18", "KF"), point(org, "YY18", "YY")
    inside = rate(kf, 2, contact="13800138001", consent=True)
    _in_period(inside, local(2025, 10, 31, 23, 30))  # the last evening of the period (local)
    outside = rate(kf, 2, contact="13800138002", consent=True)
    _in_period(outside, local(2025, 11, 1, 0, 10))
    elsewhere = rate(yy, 1, contact="13800138003", consent=True)
    _in_period(elsewhere, local(2025, 10, 15))
    quiet = rate(kf, 1)  # no consent: not due a call-back, but due a rectification
    _in_period(quiet, local(2025, 10, 15))
    october = (date(2025, 10, 1), date(2025, 10, 31))
    assert loop.callback_counts(*october, org.depts["KF"].id) == (0, 1)
    assert loop.callback_counts(*october) == (0, 2)
    # Due in October: quiet (10-22) only; inside is due 11-07.
    assert loop.rectification_counts(*october, org.depts["KF"].id) == (0, 1)


# -- isolation --------------------------------------------------------------------------------------
def test_a_head_of_another_department_learns_nothing(org):
    ticket = rate(point(org, "KF19", "KF"), 1)
    loop.record_rectification(org.kf_member, ticket.id, "整改", uploads=[("a.pdf", PDF)])
    appeal = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MISTAKEN, reason="误评")
    file_id = db.session.scalar(sa.select(TicketFile.id).where(TicketFile.ticket_id == ticket.id))
    stranger = org.heads["YY"]
    actions = [
        lambda: loop.record_rectification(stranger, ticket.id, "x"),
        lambda: loop.add_evidence(stranger, ticket.id, [("b.pdf", PDF)]),
        lambda: loop.evidence_of(stranger, ticket.id),
        lambda: loop.evidence_file(stranger, file_id),
        lambda: loop.file_appeal(stranger, ticket.id, grounds=MISTAKEN, reason="x"),
        lambda: loop.appeals_of(stranger, ticket.id),
        lambda: loop.get_appeal(stranger, appeal.id),
        lambda: loop.decide_appeal(stranger, appeal.id, uphold=True, note="x", password=DEFAULT_PASSWORD),
        lambda: loop.evidence_file(stranger, 987654),
    ]
    for action in actions:
        with pytest.raises(NotFound):
            action()
    assert count(TicketFile) == 1 and count(Appeal) == 1 and appeal.status == APPEAL_PENDING


def test_the_audit_trail_reads_the_loop_in_words(org, client, login, app):
    from portal.audit.registry import action_label

    ticket = rate(point(org, "KF20", "KF"), 1)
    loop.record_rectification(org.kf_member, ticket.id, "已整改", uploads=[("记录.pdf", PDF)])
    appeal = loop.file_appeal(org.heads["KF"], ticket.id, grounds=MALICIOUS, reason="恶意")
    loop.decide_appeal(org.qm, appeal.id, uphold=True, note="成立", password=DEFAULT_PASSWORD)
    login(client, org.qm)
    html = client.get("/admin/audit/?action=triage.").get_data(as_text=True)
    with app.test_request_context():
        labels = [str(action_label(code)) for code in ("triage.rectify", "triage.appeal", "triage.appeal_decide")]
        upheld = str(loop.APPEAL_STATUS_LABELS[APPEAL_UPHELD])
    assert all(label in html for label in labels) and upheld in html
    assert "triage.appeal_decide</" not in html
