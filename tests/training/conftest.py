"""Fixtures of the training tests: the seeded matrix (客户投诉处理 T-03: A 客服部 KF, R 客服部 and 运营部 YY;
柜面业务办理 T-04: A and R 运营部), an author in 客服部, and members of both departments."""
from __future__ import annotations

import pytest

from portal.core.roles import EMPLOYEE


@pytest.fixture
def org(matrix_org, make_user):
    matrix_org.author = make_user("author_kf", roles=(EMPLOYEE,), department=matrix_org.depts["KF"],
                                  display_name="郑十")
    matrix_org.other = make_user("emp_yy", roles=(EMPLOYEE,), department=matrix_org.depts["YY"], display_name="王五")
    matrix_org.zh_member = make_user("emp_zh", roles=(EMPLOYEE,), department=matrix_org.depts["ZH"],
                                     display_name="赵六")
    return matrix_org
