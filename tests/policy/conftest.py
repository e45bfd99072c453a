"""Fixtures of the quality policy tests: a small organisation and a published policy."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.extensions import db
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from tests.policy.helpers import publish_version


@pytest.fixture
def org(make_user, make_department):
    """质量管理部 (a quality manager, an administrator), 客服部 and 运营部 (each with a head and employees)."""
    qa = make_department("质量管理部", code="QA")
    kf = make_department("客服部", code="KF")
    ops = make_department("运营部", code="OPS")
    quality = make_user("quality_t", roles=(QUALITY_MANAGER,), department=qa, display_name="周静怡")
    admin = make_user("admin_p", roles=(ADMIN,), department=qa, display_name="系统管理员")
    head_kf = make_user("head_kf_t", roles=(DEPT_HEAD,), department=kf, display_name="李娜")
    head_ops = make_user("head_ops_t", roles=(DEPT_HEAD,), department=ops, display_name="刘海峰")
    kf.head, ops.head = head_kf, head_ops
    employee = make_user("zhangsan_t", roles=(EMPLOYEE,), department=kf, display_name="张三")
    lisi = make_user("lisi_t", roles=(EMPLOYEE,), department=kf, display_name="李四")
    wangwu = make_user("wangwu_t", roles=(EMPLOYEE,), department=ops, display_name="王五")
    gone = make_user("gone_t", roles=(EMPLOYEE,), department=kf, display_name="已离职", active=False)
    db.session.flush()
    return SimpleNamespace(qa=qa, kf=kf, ops=ops, quality=quality, admin=admin, head_kf=head_kf, head_ops=head_ops,
                           employee=employee, lisi=lisi, wangwu=wangwu, gone=gone)


@pytest.fixture
def published(org):
    return publish_version(org.quality, org.admin)
