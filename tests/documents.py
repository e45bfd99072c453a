"""Controlled documents driven through the document-control services, as people would: shared by the tests of
every domain that needs an effective document (document control, training)."""
from __future__ import annotations

from datetime import date

from portal.extensions import db
from portal.sop import services
from tests.helpers import DEFAULT_PASSWORD

BODY = ("# 客户投诉处理规范\n\n## 1 目的\n\n规范客户投诉的受理和处理。\n\n## 2 程序\n\n"
        "1. 受理客户投诉并登记。\n2. 一个工作日内首次响应。\n3. 涉及退款的，经负责人审批后办理退款。\n")


def register(author, org, *, process="T-03", dept="KF", title="客户投诉处理规范", body=BODY, doc_type="instruction",
             summary="首次发布", **fields):
    """A registered document (owned by ``dept``, for ``process``) whose draft 1.0 has ``body``."""
    document = services.create_document(author, services.DocumentFields(
        title=title, doc_type=doc_type, department_id=org.depts[dept].id,
        process_id=org.procs[process].id if process else None, **fields))
    services.update_draft(author, document.latest_version, body=body, change_summary=summary)
    db.session.flush()
    return document


def review_all(version) -> None:
    """Every pending reviewer signs 审核."""
    for reviewer in list(version.reviewers):
        if reviewer.decision == "pending":
            services.review(reviewer.user, version, DEFAULT_PASSWORD)


def make_effective(author, version, *, today: date | None = None, retraining: bool = True, reason: str = ""):
    """Submit, review and approve ``version`` (effective today unless ``today`` is later than the date)."""
    services.submit(author, version)
    review_all(version)
    approver = services.approver_of(version.document)
    services.approve(approver, version, DEFAULT_PASSWORD,
                     services.ApprovalChoice(retraining_required=retraining, retraining_reason=reason), today=today)
    db.session.flush()
    db.session.refresh(version)
    return version


def effective_document(author, org, **kwargs):
    document = register(author, org, **kwargs)
    make_effective(author, document.latest_version)
    db.session.refresh(document)
    return document


def next_version(author, document, body: str, summary: str = "修订"):
    version = services.new_version(author, document)
    services.update_draft(author, version, body=body, change_summary=summary)
    db.session.flush()
    return version


def awaiting_approval(author, org, **kwargs):
    """A registered document whose draft is submitted and reviewed by every reviewer: (document, version)."""
    document = register(author, org, **kwargs)
    version = document.latest_version
    services.submit(author, version)
    review_all(version)
    db.session.flush()
    return document, version
