"""Fixtures of the quality policy tests: a small organisation and a published policy."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.policy import services
from tests.conftest import DEFAULT_PASSWORD

POLICY_TITLE = "以客户为中心，规范服务，持续改进，追求卓越"
POLICY_BODY = "客户满意是我们工作的出发点。\n每一位员工都清楚自己的质量职责。\n\n我们依据数据持续改进。"


def msg(msgid: str, **values) -> str:
    """A message as the portal shows it (in the default locale), so the tests survive translation."""
    from flask_babel import gettext

    return gettext(msgid, **values)


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


def publish_version(actor, title: str = POLICY_TITLE, body: str = POLICY_BODY):
    """Draft, approve (with the actor's signature) and publish a version through the services."""
    policy = services.create_draft(actor, title, body)
    services.approve_policy(actor, policy, DEFAULT_PASSWORD)
    services.publish_policy(actor, policy)
    db.session.flush()
    return policy


@pytest.fixture
def published(org):
    return publish_version(org.quality)


@pytest.fixture
def client_for(app, login):
    """``client_for(user)``: a fresh client (its own cookie jar) logged in as ``user``."""

    def make(user, password: str = DEFAULT_PASSWORD):
        other = app.test_client()
        login(other, user, password)
        return other

    return make


@pytest.fixture
def drain_queue(app):
    """Reminder emails are enqueued after commit: leave nothing in the test Redis for another test's worker."""
    yield
    import redis

    from portal.extensions import rq

    try:
        rq.queue("default").empty()
    except (redis.RedisError, OSError):
        pass


@pytest.fixture
def count_queries(app):
    """``with count_queries() as statements:`` collects the SQL run meanwhile (not the test's savepoints)."""
    import contextlib
    import re

    @contextlib.contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK)\b", statement, re.I):
                statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", before)

    return counting
