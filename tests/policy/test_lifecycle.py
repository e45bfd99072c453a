"""The version lifecycle: draft → approved (electronic signature) → published → superseded."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import LoginAttempt
from portal.core.errors import Conflict, ServiceError
from portal.esign.models import Signature
from portal.esign.services import SignatureRejected, content_hash
from portal.extensions import db
from portal.policy import services
from portal.policy.models import APPROVED, DRAFT, PUBLISHED, SUPERSEDED, QualityPolicy
from tests.helpers import (
    DEFAULT_PASSWORD, HX, assert_full_page, assert_page, assert_partial, audit, field_has_error, flashes, msg,
    plain_text, text,
)
from tests.policy.helpers import POLICY_BODY, POLICY_TITLE, publish_version

BASE = "/quality/policy"
PREPARING = "Version %(version)d is still being prepared: finish or publish it first."


def by_version(version: int) -> QualityPolicy:
    return db.session.scalar(sa.select(QualityPolicy).where(QualityPolicy.version == version))


def signatures() -> list[Signature]:
    return list(db.session.scalars(sa.select(Signature).order_by(Signature.id)))


# == services =======================================================================================
def test_lifecycle_draft_approve_publish_supersede(org):
    quality = org.quality
    first = services.create_draft(quality, f"  {POLICY_TITLE}  ", POLICY_BODY.replace("\n", "\r\n") + "\n\n")
    assert (first.version, first.status, first.created_by_id) == (1, DRAFT, quality.id)
    assert first.title == POLICY_TITLE and first.body == POLICY_BODY  # trimmed, newlines normalised
    assert services.current_policy() is None

    signature = services.approve_policy(org.admin, first, DEFAULT_PASSWORD)  # four eyes: not the author
    db.session.refresh(first)
    assert first.status == APPROVED and first.approved_signature_id == signature.id
    assert (signature.signer_id, signature.meaning, signature.object_type, signature.object_id) == (
        org.admin.id, "approve", "quality_policy", str(first.id))
    assert signature.content_sha256 == content_hash(POLICY_TITLE, POLICY_BODY)
    assert signature.signer_name == "系统管理员" and "admin" in signature.signer_roles

    services.publish_policy(quality, first)
    db.session.refresh(first)
    assert first.status == PUBLISHED and first.published_by_id == quality.id and first.published_at is not None
    assert services.current_policy() == first

    # the next version starts from the published text and supersedes it when published
    assert services.draft_defaults(quality) == (POLICY_TITLE, POLICY_BODY)
    second = services.create_draft(org.admin, POLICY_TITLE, POLICY_BODY + "\n\n新增：每年评审一次。")
    assert second.version == 2
    services.approve_policy(quality, second, DEFAULT_PASSWORD)
    services.publish_policy(org.admin, second)
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.status, second.status) == (SUPERSEDED, PUBLISHED)
    assert first.superseded_at is not None
    assert services.current_policy() == second

    actions = [e.action for e in audit(object_type="quality_policy")]
    assert actions == ["policy.create", "policy.approve", "policy.publish",
                       "policy.create", "policy.approve", "policy.supersede", "policy.publish"]
    assert [e.action for e in audit("esign.sign")] == ["esign.sign", "esign.sign"]
    [supersede] = audit("policy.supersede")
    assert supersede.summary["superseded_by_version"] == 2 and supersede.summary["after"] == {"status": SUPERSEDED}


def test_wrong_password_signs_nothing_and_records_the_attempt(org):
    draft = services.create_draft(org.admin, POLICY_TITLE, POLICY_BODY)
    with pytest.raises(SignatureRejected) as caught:
        services.approve_policy(org.quality, draft, "wrong-password")
    assert caught.value.errors[0][0] == "password"
    assert draft.status == DRAFT and draft.approved_signature_id is None and signatures() == []
    [failed] = audit("esign.failed")
    assert failed.actor_id == org.quality.id and failed.object_id == str(draft.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == org.quality.username, LoginAttempt.success.is_(False))) == 1


def test_only_drafts_change_and_only_one_version_is_prepared_at_a_time(org):
    quality = org.quality
    draft = services.create_draft(quality, POLICY_TITLE, POLICY_BODY)
    with pytest.raises(ServiceError, match=re.escape(msg(PREPARING, version=1))):
        services.create_draft(quality, "另一份草稿", "正文")
    services.update_draft(quality, draft, "修改后的方针", "修改后的正文")
    assert (draft.title, draft.body) == ("修改后的方针", "修改后的正文")
    [update] = audit("policy.update")
    assert update.summary["before"]["title"] == POLICY_TITLE and update.summary["after"]["title"] == "修改后的方针"
    services.update_draft(quality, draft, "修改后的方针", "修改后的正文")  # nothing changed: no audit row
    assert len(audit("policy.update")) == 1

    not_approved = "Only an approved version can be published; version %(version)d is %(status)s."
    not_draft = "Only a draft can be edited; version %(version)d is %(status)s."
    with pytest.raises(ServiceError, match=re.escape(msg(not_approved, version=1, status=msg("Draft")))):
        services.publish_policy(quality, draft)
    services.approve_policy(org.admin, draft, DEFAULT_PASSWORD)
    with pytest.raises(ServiceError, match=re.escape(msg(not_draft, version=1, status=msg("Approved")))):
        services.update_draft(quality, draft, "批准后再改", "不允许")
    with pytest.raises(ServiceError, match=re.escape(msg(
            "Only a draft can be approved; version %(version)d is %(status)s.", version=1, status=msg("Approved")))):
        services.approve_policy(quality, draft, DEFAULT_PASSWORD)
    services.publish_policy(quality, draft)
    with pytest.raises(ServiceError, match=re.escape(msg(not_draft, version=1, status=msg("Published")))):
        services.update_draft(quality, draft, "发布后再改", "不允许")
    with pytest.raises(ServiceError, match=re.escape(msg(not_approved, version=1, status=msg("Published")))):
        services.publish_policy(quality, draft)
    assert (draft.title, draft.body) == ("修改后的方针", "修改后的正文")


@pytest.mark.parametrize("title, body, field", [
    ("", "正文", "title"), ("   ", "正文", "title"), ("方" * 201, "正文", "title"),
    ("方针", "", "body"), ("方针", " \n \n", "body"), ("方针", "字" * 20001, "body"),
])
def test_draft_validation(org, title, body, field):
    with pytest.raises(ServiceError) as caught:
        services.create_draft(org.quality, title, body)
    assert [f for f, _m in caught.value.errors] == [field]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QualityPolicy)) == 0


def test_approval_refuses_a_text_changed_since_it_was_shown(org):
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    seen = services.policy_content_hash(draft)
    services.update_draft(org.quality, draft, POLICY_TITLE, POLICY_BODY + "（补充）")
    with pytest.raises(Conflict):
        services.approve_policy(org.admin, draft, DEFAULT_PASSWORD, seen_sha256=seen)
    assert signatures() == [] and draft.status == DRAFT


def test_publication_refuses_text_that_differs_from_the_signature(org):
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    services.approve_policy(org.admin, draft, DEFAULT_PASSWORD)
    db.session.execute(sa.update(QualityPolicy).where(QualityPolicy.id == draft.id).values(body="被篡改的正文"))
    db.session.expire(draft)
    with pytest.raises(ServiceError, match=re.escape(msg(
            "The text of version %(version)d does not match its approval signature; it cannot be published.",
            version=1))):
        services.publish_policy(org.quality, draft)


def test_a_second_concurrent_transition_is_a_conflict(org):
    """Two managers approve the same draft: the row moved on under the second one."""
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    db.session.execute(sa.update(QualityPolicy).where(QualityPolicy.id == draft.id).values(status=APPROVED))
    # the second manager still holds the draft as they loaded it
    draft.__dict__["status"] = DRAFT
    with pytest.raises(Conflict):
        services.approve_policy(org.admin, draft, DEFAULT_PASSWORD)


def test_at_most_one_published_version_in_the_database(org, published):
    other = services.create_draft(org.quality, "第二版", "正文")
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.update(QualityPolicy).where(QualityPolicy.id == other.id).values(status=PUBLISHED))


# == views ==========================================================================================
def test_full_lifecycle_through_the_views(client_for, org):
    quality = client_for(org.quality)
    page = assert_full_page(quality.get(f"{BASE}/versions"))
    assert 'id="version-table"' in page and 'id="new-draft-link"' in page

    form_page = assert_full_page(quality.get(f"{BASE}/new"))
    assert 'id="policy-form"' in form_page
    response = quality.post(f"{BASE}/new", data={"title": POLICY_TITLE, "body": POLICY_BODY})
    draft = by_version(1)
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{draft.id}"
    detail = assert_full_page(quality.get(f"{BASE}/{draft.id}"))
    assert 'data-status="draft"' in detail and 'id="edit-draft"' in detail
    assert 'id="approve-form"' not in detail and 'id="own-draft"' in detail  # the author cannot sign it
    assert services.policy_content_hash(draft) in detail
    approver = client_for(org.admin)
    assert 'id="approve-form"' in approver.get(f"{BASE}/{draft.id}").get_data(as_text=True)

    response = approver.post(f"{BASE}/{draft.id}/approve",
                            data={"password": DEFAULT_PASSWORD, "content_sha256": services.policy_content_hash(draft)})
    assert response.status_code == 303
    db.session.refresh(draft)
    assert draft.status == APPROVED
    assert [c for c, _m in flashes(text(approver.get(f"{BASE}/{draft.id}")))] == ["success"]
    detail = text(quality.get(f"{BASE}/{draft.id}"))
    assert 'id="publish-button"' in detail and 'id="approve-form"' not in detail and "系统管理员" in detail
    assert "hx-confirm=" in detail  # publishing asks first

    response = quality.post(f"{BASE}/{draft.id}/publish")
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/"
    db.session.refresh(draft)
    assert draft.status == PUBLISHED
    index = assert_full_page(quality.get(f"{BASE}/"))
    assert POLICY_TITLE in index and 'id="acknowledge-button"' in index

    # a new draft starts from the published text
    prefilled = text(quality.get(f"{BASE}/new"))
    assert f'value="{POLICY_TITLE}"' in prefilled and "我们依据数据持续改进。" in prefilled
    response = quality.post(f"{BASE}/new", data={"title": POLICY_TITLE, "body": POLICY_BODY + "\n\n第二版"}, headers=HX)
    second = by_version(2)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{BASE}/{second.id}"
    approver.post(f"{BASE}/{second.id}/approve", data={"password": DEFAULT_PASSWORD}, headers=HX)
    response = quality.post(f"{BASE}/{second.id}/publish", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{BASE}/"
    db.session.refresh(draft)
    db.session.refresh(second)
    assert (draft.status, second.status) == (SUPERSEDED, PUBLISHED)
    rows = re.findall(r'<tr id="version-(\d+)" data-status="(\w+)"', text(quality.get(f"{BASE}/versions", headers=HX)))
    assert rows == [(str(second.id), PUBLISHED), (str(draft.id), SUPERSEDED)]


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_wrong_password_in_the_view_is_committed_not_rolled_back(client_for, org, hx):
    draft = services.create_draft(org.admin, POLICY_TITLE, POLICY_BODY)
    quality = client_for(org.quality)
    response = quality.post(f"{BASE}/{draft.id}/approve", data={"password": "not-my-password"},
                            headers=HX if hx else None)
    body = assert_page(response, hx, 422)
    assert field_has_error(body, "password") and 'id="approve-form"' in body
    db.session.refresh(draft)
    assert draft.status == DRAFT and signatures() == []
    # the failed attempt survived the request: it was committed, not rolled back with the error
    [failed] = audit("esign.failed")
    assert failed.actor_id == org.quality.id and failed.object_type == "quality_policy"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == org.quality.username, LoginAttempt.success.is_(False))) == 1
    assert audit("policy.approve") == []


def test_approval_with_a_stale_text_is_refused_in_the_view(client_for, org):
    draft = services.create_draft(org.admin, POLICY_TITLE, POLICY_BODY)
    quality = client_for(org.quality)
    response = quality.post(f"{BASE}/{draft.id}/approve",
                            data={"password": DEFAULT_PASSWORD, "content_sha256": "0" * 64}, headers=HX)
    body = assert_partial(response, 422)
    assert msg("The text was changed after you opened it. Read it again before signing.") in plain_text(body)
    db.session.refresh(draft)
    assert draft.status == DRAFT and signatures() == [] and audit("esign.failed") == []


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_new_and_edit_forms_plain_and_htmx(client_for, org, hx):
    quality = client_for(org.quality)
    headers = HX if hx else None
    check = assert_partial if hx else assert_full_page
    body = check(quality.get(f"{BASE}/new", headers=headers))
    assert body.count('id="policy-form"') == 1
    body = check(quality.post(f"{BASE}/new", data={"title": "", "body": "正文"}, headers=headers), 422)
    assert field_has_error(body, "title")
    assert by_version(1) is None

    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    body = check(quality.get(f"{BASE}/{draft.id}/edit", headers=headers))
    assert POLICY_TITLE in body
    body = check(quality.post(f"{BASE}/{draft.id}/edit", data={"title": "新", "body": ""}, headers=headers), 422)
    assert field_has_error(body, "body")
    response = quality.post(f"{BASE}/{draft.id}/edit", data={"title": "新标题", "body": "新正文"}, headers=headers)
    assert response.status_code in (204, 303)
    db.session.refresh(draft)
    assert (draft.title, draft.body) == ("新标题", "新正文")

    # a second draft while one is open: the form-level error is shown
    body = check(quality.post(f"{BASE}/new", data={"title": "又一份", "body": "正文"}, headers=headers), 422)
    assert msg(PREPARING, version=1) in plain_text(body)


def test_editing_a_non_draft_redirects_to_its_page(client_for, org, published):
    quality = client_for(org.quality)
    response = quality.get(f"{BASE}/{published.id}/edit")
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{published.id}"
    response = quality.post(f"{BASE}/{published.id}/edit", data={"title": "改", "body": "改"})
    assert response.status_code == 303
    db.session.refresh(published)
    assert published.title == POLICY_TITLE


def test_publishing_twice_reports_an_error(client_for, org):
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    services.approve_policy(org.admin, draft, DEFAULT_PASSWORD)
    quality = client_for(org.quality)
    first = quality.post(f"{BASE}/{draft.id}/publish")
    assert first.status_code == 303
    # the browser follows the redirect, which shows (and so takes) the success message
    assert [c for c, _m in flashes(text(quality.get(first.headers["Location"])))] == ["success"]
    response = quality.post(f"{BASE}/{draft.id}/publish")
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{draft.id}"
    assert [c for c, _m in flashes(text(quality.get(f"{BASE}/{draft.id}")))] == ["danger"]
    assert len(audit("policy.publish")) == 1


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_detail_and_versions_plain_and_htmx(client_for, org, published, hx):
    quality = client_for(org.quality)
    headers = HX if hx else None
    check = assert_partial if hx else assert_full_page
    body = check(quality.get(f"{BASE}/{published.id}", headers=headers))
    assert 'id="policy-detail"' in body and 'id="policy-signatures"' in body
    body = check(quality.get(f"{BASE}/versions", headers=headers))
    assert 'id="policy-versions"' in body
    employee = client_for(org.employee)
    body = check(employee.get(f"{BASE}/{published.id}", headers=headers))
    assert POLICY_TITLE in body and 'id="publish-button"' not in body and 'id="edit-draft"' not in body


def test_policy_text_is_plain_text_never_html(client_for, org):
    body = "第一段<script>alert(1)</script>\n第一段第二行\n\n<b>第二段</b>"
    publish_version(org.quality, org.admin, title="<i>方针</i>", body=body)
    page = text(client_for(org.employee).get(f"{BASE}/"))
    assert "<script>alert(1)</script>" not in page and "<b>第二段</b>" not in page and "<i>方针</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;i&gt;方针&lt;/i&gt;" in page
    assert "第一段&lt;script&gt;alert(1)&lt;/script&gt;<br>第一段第二行</p>" in page
    assert "<p>&lt;b&gt;第二段&lt;/b&gt;</p>" in page


def test_templates_follow_the_csp(app):
    """No inline script, style attributes or hx-on in the policy templates."""
    from pathlib import Path

    root = Path(app.template_folder) / "policy"
    files = list(root.rglob("*.html"))
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert "<script" not in source and "style=" not in source and "hx-on" not in source, path


def test_signature_rows_survive_in_the_audit_chain(org, published):
    from portal.audit.services import verify_chain

    assert verify_chain().intact
    events = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("policy.%"))).all()
    assert set(events) == {"policy.create", "policy.approve", "policy.publish"}
