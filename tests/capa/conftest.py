"""Fixtures of the CAPA tests: the seeded matrix (客服部 KF, 运营部 YY, 质量管理部 ZL with the quality manager), a
member of KF and of YY, and a service point of each."""
from __future__ import annotations

import pytest

from portal.core.roles import EMPLOYEE
from portal.extensions import db
from portal.feedback import services as feedback_services


def _point(org, code: str, dept: str):
    return feedback_services.create_point(org.qm, feedback_services.PointFields(
        code=code, name=f"{code} 窗口", location="一楼", department_id=org.depts[dept].id, process_id=None,
        opening_hours="", categories_text=""))


@pytest.fixture
def org(matrix_org, make_user):
    matrix_org.kf_member = make_user("kf_member", roles=(EMPLOYEE,), department=matrix_org.depts["KF"])
    matrix_org.yy_member = make_user("yy_member", roles=(EMPLOYEE,), department=matrix_org.depts["YY"])
    matrix_org.point = _point(matrix_org, "KF01", "KF")
    matrix_org.yy_point = _point(matrix_org, "YY01", "YY")
    db.session.commit()
    return matrix_org
