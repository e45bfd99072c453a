"""The automatic-metrics job: the last closed period of every active automatic objective, once."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.objectives import registry
from portal.objectives.jobs import compute_automatic_measurements
from portal.objectives.models import QUARTER, YEAR
from tests.helpers import audit
from tests.objectives.helpers import measurements_of, missed_notifications

KEY = "test.ack_rate"


@pytest.fixture
def metric():
    """A registered metric that records its calls and answers from ``answers`` (default 97.5)."""
    calls = []
    answers = {}

    def ack_rate(start: date, end: date):
        calls.append((start, end))
        answer = answers.get(start, 97.5)
        if isinstance(answer, Exception):
            raise answer
        return answer

    registry.register_metric(KEY, "Policy acknowledgement rate (test)", ack_rate)
    yield calls, answers
    registry.unregister_metric(KEY)


def test_job_records_the_last_closed_period_once(org, make_objective, metric):
    calls, _answers = metric
    monthly = make_objective(org.kf, name="制度签收率", data_source=KEY)
    quarterly = make_objective(org.ops, name="制度签收率（季）", data_source=KEY, period=QUARTER)
    yearly = make_objective(org.ops, name="制度签收率（年）", data_source=KEY, period=YEAR)
    make_objective(org.kf, name="手工目标")  # manual: never computed
    make_objective(org.kf, name="停用目标", data_source=KEY, active=False)

    result = compute_automatic_measurements("2025-04-01")
    assert result == {"recorded": 3, "skipped": 0, "failed": 0}
    assert sorted(calls) == sorted([(date(2025, 3, 1), date(2025, 3, 31)), (date(2025, 1, 1), date(2025, 3, 31)),
                                    (date(2024, 1, 1), date(2024, 12, 31))])
    [m] = measurements_of(monthly)
    assert (m.period_start, m.value, m.entered_by_id) == (date(2025, 3, 1), Decimal("97.5"), None)
    assert [x.period_start for x in measurements_of(quarterly)] == [date(2025, 1, 1)]
    assert [x.period_start for x in measurements_of(yearly)] == [date(2024, 1, 1)]
    [event] = audit("objective.measurement_create", m)
    assert event.actor_id is None and event.summary["via"] == "automatic"

    # Run again (the next day, or twice the same day): nothing new, the metric is not even asked.
    calls.clear()
    assert compute_automatic_measurements(date(2025, 4, 2)) == {"recorded": 0, "skipped": 3, "failed": 0}
    assert calls == [] and len(measurements_of(monthly)) == 1


def test_job_skips_no_data_and_survives_a_failing_metric(org, make_objective, metric):
    _calls, answers = metric
    make_objective(org.kf, name="无数据", data_source=KEY)
    failing = make_objective(org.ops, name="出错", data_source=KEY, period=QUARTER)
    answers[date(2025, 3, 1)] = None
    answers[date(2025, 1, 1)] = RuntimeError("the metric's query broke")
    assert compute_automatic_measurements("2025-04-10") == {"recorded": 0, "skipped": 1, "failed": 1}
    assert measurements_of(failing) == []
    # the data arrives later: the next run records it
    answers[date(2025, 3, 1)] = 99.0
    answers.pop(date(2025, 1, 1))
    assert compute_automatic_measurements("2025-04-11") == {"recorded": 2, "skipped": 0, "failed": 0}


def test_job_does_not_overwrite_a_value_entered_by_hand(org, make_objective, add_measurement, metric):
    calls, _answers = metric
    objective = make_objective(org.kf, data_source=KEY)
    add_measurement(objective, date(2025, 3, 1), "88")
    assert compute_automatic_measurements("2025-04-01")["skipped"] == 1
    assert calls == [] and [m.value for m in measurements_of(objective)] == [Decimal("88")]


def test_unregistered_metric_is_skipped(org, make_objective):
    make_objective(org.kf, data_source="gone.metric")
    assert compute_automatic_measurements("2025-04-01") == {"recorded": 0, "skipped": 1, "failed": 0}


def test_automatic_missed_value_notifies_the_head_once(org, make_objective, metric):
    _calls, answers = metric
    objective = make_objective(org.kf, target="95", data_source=KEY)
    answers[date(2025, 3, 1)] = 60.0
    compute_automatic_measurements("2025-04-01")
    compute_automatic_measurements("2025-04-02")
    [note] = missed_notifications(org.head_kf)
    assert note.dedupe_key == f"objective.missed:{objective.id}:2025-03-01:60"


def test_registry_refuses_bad_keys():
    with pytest.raises(ValueError):
        registry.register_metric("manual", "x", lambda s, e: 1)
    with pytest.raises(ValueError):
        registry.register_metric("", "x", lambda s, e: 1)


def test_job_takes_plain_arguments_and_defaults_to_today(org, make_objective, metric):
    """Run as RQ would (an ISO string or nothing), in the portal's time zone."""
    from portal.objectives import services

    objective = make_objective(org.kf, data_source=KEY)
    compute_automatic_measurements()
    [m] = measurements_of(objective)
    assert m.period_start == services.last_closed_period_start("month", services.local_today())


def test_a_per_department_metric_measures_each_objectives_department(org, make_objective, metric):
    """A metric registered with per_department=True gets the objective's department; the company-wide metrics
    registered before (the fixture's, fn(start, end)) are measured in the same run as they always were."""
    old_calls, _answers = metric
    calls = []

    def by_department(start: date, end: date, department_id: int):
        calls.append((start, end, department_id))
        return {org.kf.id: 90.0, org.ops.id: 75.5}[department_id]

    registry.register_metric("test.per_dept", "Per department (test)", by_department, per_department=True)
    try:
        kf = make_objective(org.kf, name="客服部完成率", data_source="test.per_dept")
        ops = make_objective(org.ops, name="运营部完成率", data_source="test.per_dept")
        company = make_objective(org.kf, name="制度签收率", data_source=KEY)
        assert compute_automatic_measurements("2025-04-01") == {"recorded": 3, "skipped": 0, "failed": 0}
    finally:
        registry.unregister_metric("test.per_dept")
    march = (date(2025, 3, 1), date(2025, 3, 31))
    assert sorted(calls) == sorted([(*march, org.kf.id), (*march, org.ops.id)])
    assert old_calls == [march]
    assert [m.value for m in measurements_of(kf)] == [Decimal("90")]
    assert [m.value for m in measurements_of(ops)] == [Decimal("75.5")]
    assert [m.value for m in measurements_of(company)] == [Decimal("97.5")]
    assert registry.get_metric(KEY).per_department is False
