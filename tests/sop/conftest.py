"""Fixtures of the document-control tests: the seeded matrix (客户投诉处理 T-03: A 客服部 KF, C 质量管理部 ZL)
and an author in 客服部."""
from __future__ import annotations

import pytest

from portal.core.roles import EMPLOYEE


@pytest.fixture
def org(matrix_org, make_user):
    matrix_org.author = make_user("author_kf", roles=(EMPLOYEE,), department=matrix_org.depts["KF"],
                                  display_name="郑十")
    matrix_org.other = make_user("emp_yy", roles=(EMPLOYEE,), department=matrix_org.depts["YY"], display_name="王五")
    return matrix_org
