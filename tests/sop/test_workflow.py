"""The document lifecycle through the services: reviewers and approvers from the matrix, signatures over the
content's SHA-256, taking effect, superseding, returns, obsolescence, periodic review, copies, bulk approval."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal import signals
from portal.core.errors import Conflict, PermissionDenied, ServiceError
from portal.esign.models import Signature
from portal.esign.services import SignatureRejected
from portal.extensions import db
from portal.raci.models import RaciAssignment
from portal.sop import content, services
from portal.sop.models import (APPROVED, DRAFT, EFFECTIVE, IN_APPROVAL, IN_REVIEW, OBSOLETE, SUPERSEDED,
                               ControlledCopy, DocumentVersion, SignedContentChanged)
from tests.helpers import DEFAULT_PASSWORD, audit, count, reloaded
from tests.documents import awaiting_approval, BODY, effective_document, make_effective, next_version, register, review_all


def _signatures(version) -> list[Signature]:
    return list(db.session.scalars(sa.select(Signature).where(
        Signature.object_type == "sop_version", Signature.object_id == str(version.id)).order_by(Signature.id)))


def test_register_numbers_the_code_by_type_and_department(org):
    first = register(org.author, org)
    second = register(org.author, org, title="差评回访规范")
    form = register(org.author, org, title="投诉登记表", doc_type="form")
    assert (first.code, second.code, form.code) == ("SOP-KF-001", "SOP-KF-002", "FM-KF-001")
    assert first.latest_version.label == "1.0" and first.latest_version.status == DRAFT
    assert audit("sop.document_create", first)


def test_a_double_submitted_registration_creates_one_document(org):
    fields = dict(title="退款申请受理规范", doc_type="instruction", department_id=org.depts["KF"].id)
    one = services.create_document(org.author, services.DocumentFields(**fields), request_key="k-1")
    two = services.create_document(org.author, services.DocumentFields(**fields), request_key="k-1")
    assert one.id == two.id and count(type(one)) == 1


def test_an_employee_registers_only_for_their_own_department(org):
    with pytest.raises(ServiceError) as caught:
        register(org.author, org, dept="YY", process="T-04")
    assert caught.value.errors[0][0] == "department_id"


def test_reviewers_are_the_heads_of_the_c_departments_plus_those_added(org, make_user):
    document = register(org.author, org)
    version = document.latest_version
    extra = make_user("reviewer_x", department=org.depts["YY"], display_name="特邀审核人")
    services.add_reviewer(org.author, version, extra.id)
    services.submit(org.author, version)
    assert version.status == IN_REVIEW
    assert {r.user_id for r in version.reviewers} == {org.heads["ZL"].id, extra.id}
    assert version.body == BODY.strip() and version.content_sha256 == content.content_sha256(BODY.strip(), None)


def test_the_matrix_decides_reviewers_not_a_list(org):
    """Make 运营部 C for T-03 as well: its head becomes a reviewer too."""
    cell = db.session.scalar(sa.select(RaciAssignment).where(
        RaciAssignment.process_id == org.procs["T-03"].id, RaciAssignment.department_id == org.depts["ZH"].id))
    cell.role = "C"
    document = register(org.author, org)
    services.submit(org.author, document.latest_version)
    assert {r.user_id for r in document.latest_version.reviewers} == {org.heads["ZL"].id, org.heads["ZH"].id}


def test_no_accountable_department_means_no_submission(org):
    db.session.execute(sa.delete(RaciAssignment).where(RaciAssignment.process_id == org.procs["T-03"].id,
                                                       RaciAssignment.role == "A"))
    document = register(org.author, org)
    with pytest.raises(ServiceError, match="批准部门|A"):
        services.submit(org.author, document.latest_version)
    assert document.latest_version.status == DRAFT


def test_a_wrong_password_signs_nothing_and_counts_toward_the_lockout(org):
    from portal.auth.models import LoginAttempt

    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    failures = count(LoginAttempt)
    with pytest.raises(SignatureRejected) as caught:
        services.review(org.heads["ZL"], version, "wrong")
    assert "密码" in str(caught.value)
    assert _signatures(version) == [] and version.reviewers[0].decision == "pending"
    assert count(LoginAttempt) == failures + 1
    assert audit("esign.failed")


def test_signatures_hash_the_content_and_the_file(org):
    document = register(org.author, org)
    version = document.latest_version
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    services.update_draft(org.author, version, body=BODY, change_summary="附 PDF", upload=("流程图.pdf", pdf))
    make_effective(org.author, version)
    expected = content.content_sha256(BODY.strip(), pdf)
    sigs = _signatures(version)
    assert [s.meaning for s in sigs] == ["review", "approve"]
    assert {s.content_sha256 for s in sigs} == {expected} == {version.content_sha256}
    assert sigs[1].signer_name == org.heads["KF"].display_name


def test_signed_content_never_changes(org):
    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    with pytest.raises(ServiceError):
        services.update_draft(org.author, version, body="改过的", change_summary="x")
    assert reloaded(version).body == BODY.strip()
    version.body = "偷偷改过"
    with pytest.raises(SignedContentChanged):
        db.session.flush()
    db.session.rollback()


def test_approval_by_the_a_head_takes_effect_today_and_signals(org):
    received = []

    def listener(sender, **kwargs):
        received.append((sender.id, kwargs["retraining_required"], kwargs["retraining_reason"], kwargs["superseded"]))

    signals.document_effective.connect(listener)
    try:
        document = register(org.author, org)
        version = make_effective(org.author, document.latest_version)
        v2 = next_version(org.author, reloaded(document), BODY + "\n4. 办结后回访。\n")
        make_effective(org.author, v2, retraining=False, reason="错别字修改")
    finally:
        signals.document_effective.disconnect(listener)
    assert reloaded(version).status == SUPERSEDED and reloaded(v2).status == EFFECTIVE
    assert reloaded(document).current_version_id == v2.id
    assert received == [(version.id, True, "", None), (v2.id, False, "错别字修改", reloaded(version))]
    assert count(DocumentVersion, DocumentVersion.document_id == document.id, DocumentVersion.status == EFFECTIVE) == 1
    assert reloaded(document).next_review_on == services.add_months(services.local_today(), 12)


def test_a_later_effective_date_waits_for_the_job(org):
    from portal.sop.jobs import make_due_versions_effective

    document, version = awaiting_approval(org.author, org)
    day = services.local_today() + timedelta(days=3)
    services.approve(org.heads["KF"], version, DEFAULT_PASSWORD, services.ApprovalChoice(effective_on=day))
    assert version.status == APPROVED
    assert make_due_versions_effective((day - timedelta(days=1)).isoformat()) == {"effective": 0, "failed": 0}
    assert reloaded(version).status == APPROVED
    assert make_due_versions_effective(day.isoformat()) == {"effective": 1, "failed": 0}
    assert reloaded(version).status == EFFECTIVE
    assert make_due_versions_effective(day.isoformat()) == {"effective": 0, "failed": 0}  # idempotent


@pytest.mark.parametrize("who", ["employee", "other_head", "reviewer", "qm"])
def test_only_the_a_head_approves(org, who):
    document, version = awaiting_approval(org.author, org)
    actor = {"employee": org.employee, "other_head": org.heads["YY"], "reviewer": org.heads["ZL"], "qm": org.qm}[who]
    with pytest.raises(PermissionDenied):
        services.approve(actor, version, DEFAULT_PASSWORD, services.ApprovalChoice())
    assert reloaded(version).status == IN_APPROVAL and [s.meaning for s in _signatures(version)] == ["review"]


def test_the_author_never_approves_their_own_version(org):
    """The author became head of the A department after submitting: still no approval."""
    document, version = awaiting_approval(org.author, org)
    org.depts["KF"].head_id = org.author.id
    db.session.flush()
    with pytest.raises(PermissionDenied):
        services.approve(org.author, version, DEFAULT_PASSWORD, services.ApprovalChoice())
    assert reloaded(version).status == IN_APPROVAL


def test_approving_twice_is_refused(org):
    document = register(org.author, org)
    version = make_effective(org.author, document.latest_version)
    with pytest.raises(PermissionDenied):
        services.approve(org.heads["KF"], version, DEFAULT_PASSWORD, services.ApprovalChoice())
    assert [s.meaning for s in _signatures(version)] == ["review", "approve"]


def test_no_retraining_needs_a_reason_and_past_dates_are_refused(org):
    document, version = awaiting_approval(org.author, org)
    head = org.heads["KF"]
    with pytest.raises(ServiceError) as caught:
        services.approve(head, version, DEFAULT_PASSWORD, services.ApprovalChoice(retraining_required=False))
    assert caught.value.errors[0][0] == "retraining_reason"
    with pytest.raises(ServiceError) as caught:
        services.approve(head, version, DEFAULT_PASSWORD,
                         services.ApprovalChoice(effective_on=services.local_today() - timedelta(days=1)))
    assert caught.value.errors[0][0] == "effective_on"
    assert reloaded(version).status == IN_APPROVAL


def test_a_returned_version_goes_back_to_draft_with_comments(org):
    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    services.return_to_draft(org.heads["ZL"], version, "第 3 步请写明审批时限。")
    assert version.status == DRAFT and version.returned_comment == "第 3 步请写明审批时限。"
    services.update_draft(org.author, version, body=BODY + "\n（审批时限一个工作日）\n", change_summary="首次发布")
    services.submit(org.author, version)
    assert version.status == IN_REVIEW and version.reviewers[0].decision == "pending"
    review_all(version)
    services.return_to_draft(org.heads["KF"], version, "请补充退款金额上限。")
    assert version.status == DRAFT and audit("sop.return")[-1].actor_id == org.heads["KF"].id


def test_returning_needs_comments_and_the_right_person(org):
    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    with pytest.raises(ServiceError):
        services.return_to_draft(org.heads["ZL"], version, " ")
    with pytest.raises(PermissionDenied):
        services.return_to_draft(org.employee, version, "不行")
    assert version.status == IN_REVIEW


def test_bulk_approval_one_password_one_signature_per_version(org):
    versions = []
    for n in range(3):
        versions.append(awaiting_approval(org.author, org, title=f"规范{n}")[1])
    head = org.heads["KF"]
    assert {v.id for v in services.pending_approvals(head)} == {v.id for v in versions}
    with pytest.raises(SignatureRejected):
        services.bulk_approve(head, [v.id for v in versions], "wrong", services.ApprovalChoice())
    assert all(reloaded(v).status == IN_APPROVAL for v in versions)
    signatures = services.bulk_approve(head, [v.id for v in versions], DEFAULT_PASSWORD, services.ApprovalChoice())
    assert len(signatures) == 3 and {s.object_id for s in signatures} == {str(v.id) for v in versions}
    assert all(reloaded(v).status == EFFECTIVE for v in versions)
    with pytest.raises(ServiceError, match="50"):
        services.bulk_approve(head, list(range(1, 52)), DEFAULT_PASSWORD, services.ApprovalChoice())


def test_bulk_approval_refuses_a_version_the_head_may_not_approve(org):
    mine = register(org.author, org)
    theirs = register(org.other, org, dept="YY", process="T-04", title="柜面业务办理规范")
    for document, author in ((mine, org.author), (theirs, org.other)):
        services.submit(author, document.latest_version)
        review_all(document.latest_version)
    with pytest.raises(PermissionDenied):
        services.bulk_approve(org.heads["KF"], [mine.latest_version.id, theirs.latest_version.id], DEFAULT_PASSWORD,
                              services.ApprovalChoice())
    assert reloaded(mine.latest_version).status == IN_APPROVAL


def test_controlled_copies_are_numbered_recalled_and_returned(org):
    document = effective_document(org.author, org)
    v1 = document.current_version
    head = org.heads["KF"]
    first = services.issue_copy(head, v1, holder_user_id=org.employee.id, request_key="copy-1")
    again = services.issue_copy(head, v1, holder_user_id=org.employee.id, request_key="copy-1")
    second = services.issue_copy(head, v1, holder_place="一号窗口")
    assert (first.number, again.id, second.number) == (1, first.id, 2)
    with pytest.raises(PermissionDenied):
        services.issue_copy(org.employee, v1, holder_place="自己")
    make_effective(org.author, next_version(org.author, reloaded(document), BODY + "\n4. 回访。\n"))
    out = list(db.session.scalars(sa.select(ControlledCopy).where(ControlledCopy.recall_requested_at.is_not(None))))
    assert {c.number for c in out} == {1, 2}
    assert [c.id for c in services.copies_to_recall(org.employee)] == [first.id]
    services.mark_returned(head, first, "已收回")
    with pytest.raises(Conflict):
        services.mark_returned(head, reloaded(first))
    assert [c.number for c in services.copies_of(document) if c.is_out] == [2]


def test_obsolete_needs_a_reason_and_a_signature_and_recalls_copies(org):
    document = effective_document(org.author, org)
    services.issue_copy(org.heads["KF"], document.current_version, holder_place="大堂")
    version = document.current_version
    with pytest.raises(PermissionDenied):
        services.make_obsolete(org.employee, document, DEFAULT_PASSWORD, "不再适用")
    with pytest.raises(ServiceError):
        services.make_obsolete(org.heads["KF"], document, DEFAULT_PASSWORD, "")
    services.make_obsolete(org.heads["KF"], document, DEFAULT_PASSWORD, "业务已取消")
    assert reloaded(version).status == OBSOLETE and reloaded(document).current_version_id is None
    assert _signatures(version)[-1].meaning == "obsolete" and _signatures(version)[-1].comment == "业务已取消"
    assert count(ControlledCopy, ControlledCopy.recall_requested_at.is_not(None)) == 1


def test_periodic_review_signs_and_moves_the_next_review_date(org):
    document = effective_document(org.author, org)
    today = date(2027, 3, 1)
    with pytest.raises(PermissionDenied):
        services.periodic_review(org.employee, document, DEFAULT_PASSWORD, today=today)
    assert services.periodic_review(org.heads["KF"], document, DEFAULT_PASSWORD, "无需修改", today=today) == date(2028, 3, 1)
    assert _signatures(document.current_version)[-1].meaning == "periodic_review"


def test_periodic_review_reminders_once_per_state(org):
    from portal.notify.models import Notification

    document = effective_document(org.author, org)
    document.next_review_on = date(2027, 1, 20)
    db.session.flush()
    assert services.notify_reviews_due(date(2026, 12, 1)) == 0  # not due yet
    services.notify_reviews_due(date(2027, 1, 1))
    services.notify_reviews_due(date(2027, 1, 2))
    services.notify_reviews_due(date(2027, 1, 25))
    notes = db.session.scalars(sa.select(Notification).where(Notification.kind == services.KIND_PERIODIC)).all()
    assert [n.recipient_id for n in notes] == [org.heads["KF"].id] * 2
    assert "逾期" in notes[1].title or "overdue" in notes[1].title


def test_waiting_for_lists_reviews_and_approvals(org):
    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    users = [org.heads["ZL"], org.heads["KF"]]
    assert [(w, v.id) for w, v in services.waiting_for(users)[org.heads["ZL"].id]] == [("review", version.id)]
    assert services.waiting_for(users)[org.heads["KF"].id] == []
    review_all(version)
    assert [(w, v.id) for w, v in services.waiting_for(users)[org.heads["KF"].id]] == [("approve", version.id)]


def test_audit_verify_covers_signatures(org):
    from portal.audit.services import verify_chain

    document = effective_document(org.author, org)
    signature_id = _signatures(document.current_version)[-1].id
    report = verify_chain()  # it empties the session between batches: only ids from here on
    assert report.intact and report.records["signatures"] >= 2
    db.session.execute(sa.update(Signature).where(Signature.id == signature_id).values(content_sha256="0" * 64))
    report = verify_chain()
    assert not report.intact and f"signature {signature_id}" in report.reason


def test_the_code_pattern_is_a_setting(org, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SOP_CODE_PATTERN", "{dept}/{type}/{seq:02d}")
    assert register(org.author, org).code == "KF/SOP/01"
    monkeypatch.setitem(app.config, "PORTAL_SOP_CODE_PATTERN", "{nonsense}-{seq}")
    assert register(org.author, org, title="另一份").code == "SOP-KF-001"  # a broken pattern falls back
