"""Fixtures of the objectives tests: two departments with heads, one user per role, an objective factory."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from portal.extensions import db
from portal.objectives.models import GE, MANUAL, MONTH, Measurement, Objective
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER


@pytest.fixture
def org(make_department, make_user):
    """客服部 (KF) and 运营部 (OPS), each with a head; an administrator, a quality manager, an employee of KF,
    and a user holding the dept_head role without heading any department."""
    kf = make_department("测试客服部", code="TKF")
    ops = make_department("测试运营部", code="TOPS")
    head_kf = make_user("head_kf_t", roles=(DEPT_HEAD,), department=kf, display_name="李娜")
    head_ops = make_user("head_ops_t", roles=(DEPT_HEAD,), department=ops, display_name="刘海峰")
    kf.head, ops.head = head_kf, head_ops
    db.session.flush()
    return SimpleNamespace(
        kf=kf, ops=ops, head_kf=head_kf, head_ops=head_ops,
        admin=make_user("admin_o", roles=(ADMIN,), department=ops),
        quality=make_user("quality_o", roles=(QUALITY_MANAGER,), department=ops, display_name="周静怡"),
        employee=make_user("employee_o", roles=(EMPLOYEE,), department=kf),
        headless=make_user("headless_o", roles=(DEPT_HEAD,), department=kf),
    )


@pytest.fixture
def make_objective():
    """``make_objective(department, **fields)``: an objective written directly (no audit), default ≥ 95% monthly."""

    def make(department, name: str | None = None, target="95", direction=GE, period=MONTH, tolerance="5",
             unit="%", data_source=MANUAL, process=None, active=True) -> Objective:
        objective = Objective(
            name=name or f"客户满意度-{department.code}", department_id=department.id, target=Decimal(target),
            direction=direction, period=period, tolerance_percent=Decimal(tolerance), unit=unit,
            data_source=data_source, process_id=process.id if process else None, active=active,
            metric_definition="满意答卷数 ÷ 有效答卷总数 × 100%",
        )
        db.session.add(objective)
        db.session.flush()
        return objective

    return make


@pytest.fixture
def add_measurement():
    """``add_measurement(objective, period_start, value)``: a row written directly (no audit, no notification)."""

    def add(objective: Objective, period_start: date, value) -> Measurement:
        from portal.objectives.services import refresh_status

        m = Measurement(objective_id=objective.id, period_start=period_start, value=Decimal(str(value)))
        db.session.add(m)
        db.session.flush()
        refresh_status(objective)
        db.session.flush()
        return m

    return add


@pytest.fixture(autouse=True)
def _drain_queue(drain_queue):
    """Email deliveries of the missed-objective notifications are enqueued after commit; do not leave them in the
    test Redis for another test's worker."""
