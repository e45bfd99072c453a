"""Fixtures for the organisation tests (the shared ones live in tests/conftest.py)."""
from __future__ import annotations

import pytest

from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from tests.conftest import DEFAULT_PASSWORD

NON_ADMIN_ROLES = {
    "employee": (EMPLOYEE,),
    "dept_head": (DEPT_HEAD,),
    "quality_manager": (QUALITY_MANAGER,),
    "every_role_but_admin": (EMPLOYEE, DEPT_HEAD, QUALITY_MANAGER),
}


@pytest.fixture
def client_for(app, login):
    """``client_for(user)``: a fresh client (its own cookie jar) logged in as ``user``."""

    def make(user, password: str = DEFAULT_PASSWORD):
        other = app.test_client()
        login(other, user, password)
        return other

    return make
