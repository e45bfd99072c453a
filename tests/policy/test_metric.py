"""The automatic objective metric: the acknowledgement rate (%) at the end of a period."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.objectives.registry import get_metric
from portal.org.models import User
from portal.policy import services
from portal.policy.models import PolicyAcknowledgement
from tests.policy.helpers import publish_version


def at(day: str, hour: int = 2) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def test_metric_is_registered():
    metric = get_metric("policy.acknowledgement_rate")
    assert metric is not None and metric.fn is services.acknowledgement_rate_percent


def test_rate_at_the_end_of_each_period(org):
    rate = services.acknowledgement_rate_percent
    assert rate(date(2026, 1, 1), date(2026, 1, 31)) is None  # nothing published
    active = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.active.is_(True)))

    first = publish_version(org.quality, org.admin)
    first.published_at = at("2026-01-10")
    for user, when in ((org.employee, "2026-01-20"), (org.lisi, "2026-01-31"), (org.wangwu, "2026-02-05")):
        ack, _created = services.acknowledge(user, first)
        ack.acknowledged_at = at(when)
    # acknowledged by someone who left since: not counted
    gone_ack = PolicyAcknowledgement(policy_id=first.id, user_id=org.gone.id, acknowledged_at=at("2026-01-12"))
    db.session.add(gone_ack)
    db.session.flush()

    assert rate(date(2025, 12, 1), date(2025, 12, 31)) is None  # before the publication
    # 31 January 16:00 UTC is already 1 February in Shanghai: a day of the period is a local day
    services.acknowledgement_of(org.lisi, first).acknowledged_at = datetime(2026, 1, 31, 16, 30, tzinfo=timezone.utc)
    db.session.flush()
    assert rate(date(2026, 1, 1), date(2026, 1, 31)) == pytest.approx(round(100 / active, 2))
    assert rate(date(2026, 2, 1), date(2026, 2, 28)) == pytest.approx(round(300 / active, 2))

    second = publish_version(org.quality, org.admin, title="第二版")
    second.published_at = at("2026-03-05")
    first.superseded_at = at("2026-03-05")
    db.session.flush()
    assert rate(date(2026, 2, 1), date(2026, 2, 28)) == pytest.approx(round(300 / active, 2))
    assert rate(date(2026, 3, 1), date(2026, 3, 31)) == 0.0
