"""Services: objectives (validation, audit, deactivate instead of delete), measurements (upsert without
duplicates, audit before/after, missed → one notification to the head), permissions by role and department."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.extensions import db
from portal.objectives import registry, services
from portal.objectives.models import AT_RISK, LE, MISSED, ON_TRACK, QUARTER, Measurement, Objective
from portal.processes.models import Process
from tests.helpers import audit, count
from tests.objectives.helpers import db_state, measurements_of, missed_notifications

TODAY = date(2025, 6, 15)


def data(department, **overrides) -> services.ObjectiveData:
    values = dict(name="投诉处理及时率", department_id=department.id, target="98", direction="ge", period="month",
                  unit="%", metric_definition="按时办结数 ÷ 投诉总数", tolerance_percent="2")
    values.update(overrides)
    return services.ObjectiveData(**values)


# == objectives =====================================================================================
def test_create_objective_is_audited(org):
    objective = services.create_objective(org.quality, data(org.kf))
    assert objective.id and objective.active and objective.target == Decimal("98")
    assert objective.tolerance_percent == Decimal("2") and objective.current_status is None
    [event] = audit("objective.create", objective)
    assert event.actor_id == org.quality.id
    assert event.summary["after"]["target"] == "98" and event.summary["after"]["department_id"] == org.kf.id


def test_tolerance_defaults_to_five_percent(org):
    objective = services.create_objective(org.admin, data(org.kf, tolerance_percent=""))
    assert objective.tolerance_percent == Decimal(5)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "名" * 201}, "name"),
        ({"department_id": None}, "department_id"),
        ({"department_id": 999999}, "department_id"),
        ({"process_id": 999999}, "process_id"),
        ({"target": "九十八"}, "target"),
        ({"target": ""}, "target"),
        ({"direction": "gt"}, "direction"),
        ({"period": "week"}, "period"),
        ({"data_source": "no.such.metric"}, "data_source"),
        ({"tolerance_percent": "101"}, "tolerance_percent"),
        ({"tolerance_percent": "-1"}, "tolerance_percent"),
        ({"unit": "x" * 17}, "unit"),
    ],
)
def test_objective_validation(org, overrides, field):
    state = db_state()
    with pytest.raises(ServiceError) as exc:
        services.create_objective(org.quality, data(org.kf, **overrides))
    assert field in [f for f, _m in exc.value.errors]
    assert db_state() == state


def test_deactivated_department_or_process_cannot_be_chosen(org, make_department):
    closed = make_department(active=False)
    process = Process(code="P-OLD", name="旧过程", active=False)
    db.session.add(process)
    db.session.flush()
    with pytest.raises(ServiceError) as exc:
        services.create_objective(org.quality, data(closed, process_id=process.id))
    assert {f for f, _m in exc.value.errors} == {"department_id", "process_id"}


def test_an_existing_process_is_linked(org):
    process = Process(code="SV-04", name="客户投诉处理")
    db.session.add(process)
    db.session.flush()
    objective = services.create_objective(org.quality, data(org.kf, process_id=process.id))
    assert objective.process.code == "SV-04"


def test_name_is_unique_among_a_departments_active_objectives(org):
    first = services.create_objective(org.quality, data(org.kf))
    with pytest.raises(ServiceError) as exc:
        services.create_objective(org.quality, data(org.kf, name=" 投诉处理及时率 "))
    assert exc.value.errors[0][0] == "name"
    services.create_objective(org.quality, data(org.ops))  # another department: fine
    services.set_objective_active(org.quality, first, False)
    services.create_objective(org.quality, data(org.kf))  # the old one is deactivated: fine
    with pytest.raises(ServiceError):
        services.set_objective_active(org.quality, first, True)  # two active twins: refused


def test_update_objective_audits_before_and_after_and_refreshes_the_status(org, make_objective, add_measurement):
    objective = make_objective(org.kf, target="95")
    add_measurement(objective, date(2025, 5, 1), "93")
    assert objective.current_status == AT_RISK
    services.update_objective(org.admin, objective, data(org.kf, name=objective.name, target="92", tolerance_percent="5"))
    assert objective.current_status == ON_TRACK
    [event] = audit("objective.update", objective)
    assert event.summary["before"]["target"] == "95" and event.summary["after"]["target"] == "92"
    assert "name" not in event.summary["before"]  # only what changed


def test_unchanged_update_writes_no_audit(org, make_objective):
    objective = make_objective(org.kf, name="客户满意度", target="95", tolerance="5")
    services.update_objective(org.admin, objective, data(org.kf, name="客户满意度", target="95", tolerance_percent="5",
                                                         metric_definition=objective.metric_definition))
    assert audit("objective.update", objective) == []


def test_period_cannot_change_once_measured(org, make_objective, add_measurement):
    objective = make_objective(org.kf)
    services.update_objective(org.admin, objective, data(org.kf, name=objective.name, period=QUARTER))
    assert objective.period == QUARTER  # no values yet: allowed
    add_measurement(objective, date(2025, 1, 1), 96)
    with pytest.raises(ServiceError) as exc:
        services.update_objective(org.admin, objective, data(org.kf, name=objective.name, period="month"))
    assert exc.value.errors[0][0] == "period"


def test_objective_with_measurements_is_deactivated_never_deleted(org, make_objective, add_measurement):
    objective = make_objective(org.kf)
    add_measurement(objective, date(2025, 1, 1), 96)
    with pytest.raises(ServiceError):
        services.delete_objective(org.quality, objective)
    assert db.session.get(Objective, objective.id) is not None
    services.set_objective_active(org.quality, objective, False)
    assert not objective.active and audit("objective.deactivate", objective)
    services.set_objective_active(org.quality, objective, True)
    assert objective.active and audit("objective.activate", objective)


def test_objective_without_measurements_can_be_deleted(org, make_objective):
    objective = make_objective(org.kf)
    objective_id = objective.id
    services.delete_objective(org.admin, objective)
    assert db.session.get(Objective, objective_id) is None
    [event] = audit("objective.delete", object_type="quality_objective")
    assert event.object_id == str(objective_id) and event.summary["before"]["name"] == objective.name


# == measurements ===================================================================================
def test_record_measurement_creates_then_updates_the_same_row(org, make_objective):
    objective = make_objective(org.kf, target="95")
    first = services.record_measurement(org.head_kf, objective, "2025-05-01", "96.5", "月度测评", today=TODAY)
    assert first.value == Decimal("96.5") and first.entered_by_id == org.head_kf.id and first.note == "月度测评"
    [created] = audit("objective.measurement_create", first)
    assert created.summary["after"] == {"objective_id": objective.id, "period_start": "2025-05-01", "value": "96.5",
                                        "note": "月度测评"}
    second = services.record_measurement(org.quality, objective, date(2025, 5, 1), "93", "复核后更正", today=TODAY,
                                         reason="抽样表漏计 3 份")
    assert second.id == first.id and count(Measurement) == 1
    assert second.value == Decimal("93") and second.entered_by_id == org.quality.id
    [updated] = audit("objective.measurement_update", first)
    assert updated.actor_id == org.quality.id
    assert updated.summary["before"] == {"value": "96.5", "note": "月度测评"}
    assert updated.summary["after"] == {"value": "93", "note": "复核后更正"}
    assert updated.summary["reason"] == "抽样表漏计 3 份"
    assert objective.current_status == AT_RISK


def test_entering_the_same_value_again_changes_nothing(org, make_objective):
    objective = make_objective(org.kf)
    services.record_measurement(org.quality, objective, "2025-05-01", "96", today=TODAY)
    state = db_state()
    services.record_measurement(org.quality, objective, "2025-05-01", "96.0000", today=TODAY)  # a double click
    assert db_state() == state


def test_a_concurrent_insert_of_the_same_period_becomes_an_update(org, make_objective, monkeypatch):
    """Two requests both see no row for the period; the second insert hits the unique constraint and updates."""
    objective = make_objective(org.kf)
    services.record_measurement(org.quality, objective, "2025-05-01", "96", today=TODAY)
    real = services.get_measurement
    calls = []

    def stale_first_look(obj, start):
        calls.append(start)
        return None if len(calls) == 1 else real(obj, start)

    monkeypatch.setattr(services, "get_measurement", stale_first_look)
    with pytest.raises(ServiceError) as refused:  # it turns out to be a correction, which needs a reason
        services.record_measurement(org.head_kf, objective, "2025-05-01", "97", today=TODAY)
    assert refused.value.errors[0][0] == "reason"
    calls.clear()
    m = services.record_measurement(org.head_kf, objective, "2025-05-01", "97", today=TODAY, reason="同时录入，以复核值为准")
    assert len(calls) == 2  # the stale look, then the re-read after the refused insert
    assert [x.value for x in measurements_of(objective)] == [Decimal("97")] and m.entered_by_id == org.head_kf.id
    assert len(audit("objective.measurement_update", m)) == 1


def test_latest_measurement_decides_the_objective_status(org, make_objective):
    objective = make_objective(org.kf, target="95")
    services.record_measurement(org.quality, objective, "2025-05-01", "80", today=TODAY)
    assert objective.current_status == MISSED
    services.record_measurement(org.quality, objective, "2025-03-01", "99", today=TODAY)  # an older period
    assert objective.current_status == MISSED
    services.record_measurement(org.quality, objective, "2025-06-01", "99", today=TODAY)
    assert objective.current_status == ON_TRACK


@pytest.mark.parametrize(
    "period_start, value, fields",
    [
        ("2025-05-02", "96", ["period_start"]),
        ("2025-07-01", "96", ["period_start"]),
        ("2025-05-01", "abc", ["value"]),
        ("2025-05-01", "", ["value"]),
        ("bad", "x", ["period_start", "value"]),
    ],
)
def test_bad_measurement_writes_nothing(org, make_objective, period_start, value, fields):
    objective = make_objective(org.kf)
    state = db_state()
    with pytest.raises(ServiceError) as exc:
        services.record_measurement(org.quality, objective, period_start, value, today=TODAY)
    assert [f for f, _m in exc.value.errors] == fields
    assert db_state() == state


def test_quarterly_objective_refuses_a_month_start(org, make_objective):
    objective = make_objective(org.kf, period=QUARTER)
    with pytest.raises(ServiceError):
        services.record_measurement(org.quality, objective, "2025-02-01", "96", today=TODAY)
    assert services.record_measurement(org.quality, objective, "2025-01-01", "96", today=TODAY).id


def test_deactivated_objective_takes_no_values(org, make_objective):
    objective = make_objective(org.kf, active=False)
    with pytest.raises(ServiceError) as exc:
        services.record_measurement(org.quality, objective, "2025-05-01", "96", today=TODAY)
    assert exc.value.errors[0][0] is None and count(Measurement) == 0


# == missed → the head is notified once ============================================================
def test_missed_value_notifies_the_department_head_once_per_value(org, make_objective):
    objective = make_objective(org.kf, name="平均等候时间", target="15", direction=LE, unit="分钟", tolerance="10")
    services.record_measurement(org.quality, objective, "2025-05-01", "16", today=TODAY)  # at risk: no notification
    assert missed_notifications() == []
    services.record_measurement(org.quality, objective, "2025-05-01", "18.5", today=TODAY, reason="录入错误")
    [note] = missed_notifications()  # now missed
    assert note.recipient_id == org.head_kf.id and note.department_id == org.kf.id
    assert note.dedupe_key == f"objective.missed:{objective.id}:2025-05-01:18.5"
    assert note.link == f"/quality/objectives/{objective.id}"
    assert "平均等候时间" in note.title and "18.5分钟" in note.body and "≤ 15分钟" in note.body
    # entered again unchanged: nothing new; corrected to another missed value: the head hears the new value
    services.record_measurement(org.quality, objective, "2025-05-01", "18.5", today=TODAY)
    assert len(missed_notifications()) == 1
    services.record_measurement(org.quality, objective, "2025-05-01", "19", today=TODAY, reason="复核后更正")
    assert "19分钟" in missed_notifications()[-1].body and len(missed_notifications()) == 2
    # corrected to a value that meets the target: the head is told the period is no longer missed
    services.record_measurement(org.quality, objective, "2025-05-01", "12", today=TODAY, reason="统计口径更正")
    corrected = missed_notifications()[-1]
    assert len(missed_notifications()) == 3 and "19分钟" in corrected.body and "12分钟" in corrected.body
    # another period is another notification; the other department's head hears nothing
    services.record_measurement(org.quality, objective, "2025-06-01", "20", today=TODAY)
    assert len(missed_notifications(org.head_kf)) == 4 and missed_notifications(org.head_ops) == []


def test_no_head_no_notification(org, make_objective, make_department):
    headless = make_department()
    objective = make_objective(headless)
    services.record_measurement(org.quality, objective, "2025-05-01", "10", today=TODAY)
    assert missed_notifications() == []


def test_missed_kind_is_registered():
    from portal.notify.registry import kinds

    assert "objective.missed" in {k.key for k in kinds()}


# == missed actions (the CAPA extension point) =====================================================
def test_missed_actions_come_from_the_registry(org, make_objective, add_measurement, app):
    objective = make_objective(org.kf)
    m = add_measurement(objective, date(2025, 5, 1), 50)

    def capa(obj, measurement):
        return [("Open a corrective action", f"/capa/new?objective={obj.id}&period={measurement.period_start}")]

    def broken(obj, measurement):
        raise RuntimeError("a bug in another domain")

    assert services.actions_for_missed(objective, m) == []
    registry.register_missed_action(capa)
    registry.register_missed_action(broken)
    try:
        assert services.actions_for_missed(objective, m) == [
            ("Open a corrective action", f"/capa/new?objective={objective.id}&period=2025-05-01")]
    finally:
        registry.unregister_missed_action(capa)
        registry.unregister_missed_action(broken)


# == permissions ====================================================================================
def test_who_may_enter_values(org, make_objective):
    kf_objective = make_objective(org.kf)
    services.record_measurement(org.admin, kf_objective, "2025-01-01", "96", today=TODAY)
    services.record_measurement(org.quality, kf_objective, "2025-02-01", "96", today=TODAY)
    services.record_measurement(org.head_kf, kf_objective, "2025-03-01", "96", today=TODAY)
    state = db_state()
    with pytest.raises(NotFound):  # the head of another department does not see it
        services.record_measurement(org.head_ops, kf_objective, "2025-04-01", "96", today=TODAY)
    with pytest.raises(NotFound):  # the dept_head role without a department
        services.record_measurement(org.headless, kf_objective, "2025-04-01", "96", today=TODAY)
    with pytest.raises(PermissionDenied):
        services.record_measurement(org.employee, kf_objective, "2025-04-01", "96", today=TODAY)
    assert db_state() == state


def test_who_may_manage_objectives(org, make_objective):
    kf_objective = make_objective(org.kf)
    for user in (org.head_kf, org.employee):
        with pytest.raises(PermissionDenied):
            services.create_objective(user, data(org.kf))
        with pytest.raises(PermissionDenied):
            services.update_objective(user, kf_objective, data(org.kf))
        with pytest.raises(PermissionDenied):
            services.set_objective_active(user, kf_objective, False)
        with pytest.raises(PermissionDenied):
            services.delete_objective(user, kf_objective)
    for call in (lambda: services.update_objective(org.head_ops, kf_objective, data(org.kf)),
                 lambda: services.set_objective_active(org.head_ops, kf_objective, False),
                 lambda: services.delete_objective(org.head_ops, kf_objective)):
        with pytest.raises(NotFound):
            call()
    assert db.session.scalar(sa.select(Objective.active).where(Objective.id == kf_objective.id)) is True


def test_search_filters(org, make_objective, add_measurement):
    a = make_objective(org.kf, name="客户满意度")
    b = make_objective(org.ops, name="平均等候时间", target="15", direction=LE, period=QUARTER)
    c = make_objective(org.kf, name="热线接通率", active=False)
    add_measurement(a, date(2025, 5, 1), 80)

    def names(**kw):
        return [o.name for o in db.session.scalars(services.search_objectives(**kw))
                if o.department_id in (org.kf.id, org.ops.id)]

    assert names() == ["客户满意度", "平均等候时间"]
    assert names(q="等候") == ["平均等候时间"]
    assert names(department_id=org.ops.id) == ["平均等候时间"]
    assert names(period=QUARTER) == ["平均等候时间"]
    assert names(status=MISSED) == ["客户满意度"]
    assert names(status="none") == ["平均等候时间"]
    assert names(active=False) == [c.name]
    assert set(names(active=None)) == {a.name, b.name, c.name}
    assert names(q="%") == []  # LIKE wildcards are escaped


# == corrections need a reason ======================================================================
def test_a_correction_needs_a_reason_and_is_audited_with_old_and_new(org, make_objective):
    objective = make_objective(org.kf, target="95", unit="%")
    services.record_measurement(org.quality, objective, "2025-05-01", "96", today=TODAY)
    with pytest.raises(ServiceError) as refused:
        services.record_measurement(org.quality, objective, "2025-05-01", "90", today=TODAY)
    assert refused.value.errors[0][0] == "reason" and "96" in refused.value.errors[0][1]
    assert [m.value for m in measurements_of(objective)] == [Decimal("96")]
    with pytest.raises(ServiceError):
        services.record_measurement(org.quality, objective, "2025-05-01", "90", today=TODAY, reason="理" * 501)
    services.record_measurement(org.quality, objective, "2025-05-01", "90", today=TODAY, reason="漏计投诉 2 件")
    [event] = audit("objective.measurement_update")
    assert (event.summary["before"]["value"], event.summary["after"]["value"], event.summary["reason"]) == (
        "96", "90", "漏计投诉 2 件")
    assert objective.current_status == MISSED  # re-evaluated
    # only the note changes: no reason needed
    services.record_measurement(org.quality, objective, "2025-05-01", "90", "补充说明", today=TODAY)
    # the automatic job corrects without a person, and says so
    services.record_measurement(None, objective, "2025-05-01", "91", today=TODAY)
    assert audit("objective.measurement_update")[-1].summary["via"] == "automatic"


@pytest.mark.parametrize("unit, value, ok", [("%", "-5", False), ("%", "1e10", False), ("%", "100", True),
                                             ("‰", "1000", True), ("件", "-1", False), ("分", "-3", True)])
def test_the_unit_bounds_the_values(org, make_objective, unit, value, ok):
    objective = make_objective(org.kf, target="1", unit=unit)
    if ok:
        assert services.record_measurement(org.quality, objective, "2025-05-01", value, today=TODAY)
    else:
        with pytest.raises(ServiceError) as refused:
            services.record_measurement(org.quality, objective, "2025-05-01", value, today=TODAY)
        assert refused.value.errors[0][0] == "value"
