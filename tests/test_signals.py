"""portal/signals.py: the cross-domain events are sent by the owning services inside the change's
transaction, so a subscriber's rows commit or roll back with the change."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal import signals
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.extensions import db
from portal.objectives import services as objectives
from portal.org import services as org
from portal.policy import services as policy_services
from portal.policy.models import APPROVED, PUBLISHED, QualityPolicy
from tests.helpers import DEFAULT_PASSWORD

REQUIRED = ("policy-published", "objective-missed", "document-effective", "feedback-received", "user-moved",
            "user-deactivated", "user-joined", "matrix-changed", "resolution-rated")


def test_the_signals_the_domains_need_are_declared_and_documented():
    names = [s.name for s in signals.ALL]
    assert sorted(names) == sorted(REQUIRED)
    for signal in signals.ALL:
        assert signal.__doc__ and len(signal.__doc__) > 10, signal.name


def _approved_policy(make_user):
    quality = make_user(roles=(QUALITY_MANAGER,))
    approver = make_user(roles=(QUALITY_MANAGER,))
    policy = policy_services.create_draft(quality, "以客户为中心", "客户满意是我们工作的出发点。")
    policy_services.approve_policy(approver, policy, DEFAULT_PASSWORD)
    db.session.flush()
    return quality, policy


def test_policy_published_runs_inside_the_publishing_transaction(app, make_user):
    quality, policy = _approved_policy(make_user)
    db.session.commit()
    received = []

    def subscriber(sender, *, actor, superseded, **_):
        # The change is flushed and visible to the subscriber, which writes its own row in the same session.
        assert sender.status == PUBLISHED
        received.append((sender.id, actor.id, superseded))
        record("test.reaction", sender, actor=actor)

    with signals.policy_published.connected_to(subscriber):
        policy_services.publish_policy(quality, policy)
    assert received == [(policy.id, quality.id, None)]
    reactions = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.reaction")
    assert db.session.scalar(reactions) == 1

    db.session.rollback()  # the view's rollback takes the change and the reaction with it
    assert db.session.get(QualityPolicy, policy.id).status == APPROVED
    assert db.session.scalar(reactions) == 0


def test_a_failing_subscriber_aborts_the_change(app, make_user):
    quality, policy = _approved_policy(make_user)
    db.session.commit()

    def broken(sender, **_):
        raise RuntimeError("subscriber failed")

    with signals.policy_published.connected_to(broken), pytest.raises(RuntimeError):
        policy_services.publish_policy(quality, policy)
    db.session.rollback()
    assert db.session.get(QualityPolicy, policy.id).status == APPROVED


def test_user_moved_only_when_department_or_position_changes(app, make_user, make_department):
    admin = make_user(roles=(ADMIN,))
    kf, ops = make_department("客服部"), make_department("运营部")
    user = make_user(department=kf, display_name="张三")
    db.session.flush()
    moves = []

    def data(department, name="张三"):
        return org.UserData(user.username, name, user.email, department.id, None, tuple(user.roles))

    with signals.user_moved.connected_to(lambda sender, **kw: moves.append((sender, kw))):
        org.update_user(admin, user, data(kf, name="张三丰"))  # a new name is not a move
        assert moves == []
        org.update_user(admin, user, data(ops))
    [(sender, kwargs)] = moves
    assert sender is user and kwargs["actor"] is admin
    assert kwargs["before"] == {"department_id": kf.id, "position_id": None}
    assert kwargs["after"] == {"department_id": ops.id, "position_id": None}


def test_user_deactivated_is_sent_once_when_a_user_leaves(app, make_user):
    admin = make_user(roles=(ADMIN,))
    user = make_user()
    left = []
    with signals.user_deactivated.connected_to(lambda sender, **kw: left.append((sender, kw["actor"]))):
        org.set_user_active(admin, user, False)
        org.set_user_active(admin, user, False)  # already inactive: nothing happens, nothing is sent
        org.set_user_active(admin, user, True)
    assert left == [(user, admin)]


def test_objective_missed_reaches_every_subscriber_and_the_heads_notification(app, make_user, make_department):
    from portal.notify.models import Notification

    quality = make_user(roles=(QUALITY_MANAGER,))
    dept = make_department("客服部")
    head = make_user(roles=(DEPT_HEAD,), department=dept)
    dept.head = head
    db.session.flush()
    objective = objectives.create_objective(quality, objectives.ObjectiveData(
        name="客户满意度", department_id=dept.id, target="95", unit="%"))
    seen = []
    with signals.objective_missed.connected_to(lambda sender, **kw: seen.append((sender, kw["measurement"]))):
        measurement = objectives.record_measurement(quality, objective, date(2026, 10, 1), "80",
                                                    today=date(2026, 11, 15))
    assert seen == [(objective, measurement)]
    notes = db.session.scalars(sa.select(Notification).where(Notification.recipient_id == head.id)).all()
    assert [n.kind for n in notes] == [objectives.MISSED_KIND]
