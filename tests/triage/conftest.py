"""Fixtures of the triage tests: the seeded matrix (客户投诉处理 T-03: A 客服部 KF, R 运营部 YY; 柜面业务办理 T-04:
A 运营部) and a member of each department."""
from __future__ import annotations

import pytest

from portal.core.roles import EMPLOYEE


@pytest.fixture
def org(matrix_org, make_user):
    matrix_org.kf_member = make_user("kf_member", roles=(EMPLOYEE,), department=matrix_org.depts["KF"])
    matrix_org.yy_member = make_user("yy_member", roles=(EMPLOYEE,), department=matrix_org.depts["YY"])
    return matrix_org
