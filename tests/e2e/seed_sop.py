"""Seed two documents into a running portal's database for the document-control browser tests, through
the services (so every signature and audit event is real), and print what the tests need as JSON.

Run in the live server's environment: ``python -m tests.e2e.seed_sop`` (see tests/e2e/test_sop.py).

* ``approval``: a new document of 客户投诉处理 (SV-04) whose v1.0 is awaiting approval (the matrix's C
  reviewers have signed 审核), with the approver (the head of the A department) named.
* ``history``: a document whose v1.0 was superseded by v1.1 (both approved through the matrix).
"""
from __future__ import annotations

import json
import secrets

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.org.models import Department, User
from portal.processes.models import Process
from portal.raci.services import accountable_department
from portal.sop import services

PASSWORD = "demo1234"
AUTHOR = "zhengshi"  # 郑十, 客服部
PROCESS = "SV-04"    # 客户投诉处理: A 客服部, C 质量管理部
APPROVAL_TEXT = "受理后两小时内联系客户（浏览器测试·待批准）"
OLD_TEXT = "旧版：三个工作日内回访客户（浏览器测试·已替代）"
NEW_TEXT = "新版：一个工作日内回访客户（浏览器测试·现行有效）"


def _body(title: str, line: str) -> str:
    return f"# {title}\n\n## 1 目的\n\n规范{title}。\n\n## 2 程序\n\n1. {line}\n2. 处理结果登记备查。\n"


def _register(author: User, title: str, code: str) -> services.Document:
    dept = db.session.scalar(sa.select(Department).where(Department.code == "KF"))
    process = db.session.scalar(sa.select(Process).where(Process.code == PROCESS))
    return services.create_document(author, services.DocumentFields(
        title=title, doc_type="instruction", department_id=dept.id, process_id=process.id, code=code))


def _to_approval(author: User, version) -> None:
    services.submit(author, version)
    for reviewer in list(version.reviewers):
        services.review(db.session.get(User, reviewer.user_id), version, PASSWORD, comment="同意。")


def _approve(version) -> None:
    approver = services.approver_of(version.document)
    services.approve(approver, version, PASSWORD, services.ApprovalChoice(comment="批准发布。"))


def seed() -> dict:
    suffix = secrets.token_hex(3).upper()
    author = db.session.scalar(sa.select(User).where(User.username == AUTHOR))

    title = f"投诉回访规范{suffix}"
    document = _register(author, title, f"E2E-A-{suffix}")
    version = document.latest_version
    services.update_draft(author, version, body=_body(title, APPROVAL_TEXT), change_summary="首次发布")
    _to_approval(author, version)
    approver = services.approver_of(document)
    approval = {"document_id": document.id, "version_id": version.id, "code": document.code,
                "status": version.status, "approver": approver.username, "approver_name": approver.display_name,
                "a_department": accountable_department(document.process_id).code,
                "approver_is_head": approver.id == accountable_department(document.process_id).head_id,
                "text": APPROVAL_TEXT}

    title = f"投诉登记规范{suffix}"
    document = _register(author, title, f"E2E-H-{suffix}")
    old = document.latest_version
    services.update_draft(author, old, body=_body(title, OLD_TEXT), change_summary="首次发布")
    _to_approval(author, old)
    _approve(old)
    new = services.new_version(author, document)
    services.update_draft(author, new, body=_body(title, NEW_TEXT), change_summary="缩短回访时限")
    _to_approval(author, new)
    _approve(new)
    db.session.flush()
    db.session.refresh(old)
    db.session.refresh(new)
    history = {"document_id": document.id, "old_version_id": old.id, "new_version_id": new.id,
               "code": document.code, "old_status": old.status, "new_status": new.status,
               "old_label": old.label, "new_label": new.label, "old_text": OLD_TEXT, "new_text": NEW_TEXT}
    db.session.commit()
    return {"approval": approval, "history": history}


def main() -> None:
    app = create_app()
    with app.app_context():
        print(json.dumps(seed(), ensure_ascii=False))


if __name__ == "__main__":
    main()
