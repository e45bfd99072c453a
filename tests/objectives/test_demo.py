"""The demo objectives: realistic, for the demo departments, a year of values ending last month, idempotent."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from portal.extensions import db
from portal.objectives import services
from portal.objectives.demo import OBJECTIVES, seed_objectives
from portal.objectives.models import AT_RISK, MISSED, MONTH, ON_TRACK, Measurement, Objective
from portal.processes.models import Process
from tests.helpers import count
from tests.objectives.helpers import measurements_of, missed_notifications

NOW = datetime(2025, 11, 20, 2, 0, tzinfo=timezone.utc)  # 20 November in Shanghai: last month is October


def test_nothing_without_the_demo_organisation():
    assert seed_objectives(now=NOW) == 0 and count(Objective) == 0


def test_seed_objectives(app):
    from portal.org.demo import seed

    seed()
    db.session.add(Process(code="SV-05", name="客户满意度测评"))
    db.session.flush()
    created = seed_objectives(now=NOW)
    objectives = list(db.session.scalars(sa.select(Objective).order_by(Objective.id)))
    assert len(objectives) == len(OBJECTIVES) >= 8
    assert {o.department.code for o in objectives} == {"GM", "QA", "KF", "OPS", "HR", "IT", "KF-HL"}
    assert created == len(objectives) + count(Measurement)
    by_name = {o.name: o for o in objectives}
    assert by_name["客户满意度"].process.code == "SV-05"  # linked where the process exists…
    assert by_name["平均等候时间"].process_id is None  # …and left empty where it does not
    assert by_name["平均等候时间"].target_text == "≤ 15分钟"

    statuses = []
    for objective in objectives:
        values = measurements_of(objective)
        if objective.period == MONTH:
            assert [m.period_start for m in values][-1] == date(2025, 10, 1) and len(values) == 12
            assert values[0].period_start == date(2024, 11, 1)
        else:  # the last four closed quarters
            assert [m.period_start for m in values] == [date(2024, 10, 1), date(2025, 1, 1), date(2025, 4, 1),
                                                        date(2025, 7, 1)]
        assert all(m.entered_by_id is not None and m.entered_at <= NOW for m in values)
        statuses += [services.measurement_status(objective, m) for m in values]
    assert {ON_TRACK, AT_RISK, MISSED} <= set(statuses)
    assert {o.current_status for o in objectives} >= {ON_TRACK, AT_RISK, MISSED}

    # only the latest period's misses notify the heads
    notes = missed_notifications()
    latest_missed = [o for o in objectives if o.current_status == MISSED]
    assert len(notes) == len(latest_missed) >= 1
    assert {n.recipient_id for n in notes} == {o.department.head_id for o in latest_missed}

    assert seed_objectives(now=NOW) == 0  # idempotent
    assert len(missed_notifications()) == len(notes)
