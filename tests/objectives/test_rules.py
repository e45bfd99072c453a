"""The pure rules: status against the target (both directions, tolerance edges), periods and their alignment,
number parsing, the sparkline geometry."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.core.errors import ServiceError
from portal.objectives import services
from portal.objectives.models import AT_RISK, GE, LE, MISSED, MONTH, ON_TRACK, QUARTER, YEAR, format_decimal

D = Decimal


# == status =========================================================================================
@pytest.mark.parametrize(
    "target, direction, tolerance, value, expected",
    [
        # ≥ 95 with 5 %: at risk down to 95 − 4.75 = 90.25 inclusive
        ("95", GE, "5", "99", ON_TRACK),
        ("95", GE, "5", "95", ON_TRACK),  # meeting the target exactly is on track
        ("95", GE, "5", "94.9999", AT_RISK),
        ("95", GE, "5", "90.25", AT_RISK),  # exactly at the edge: still at risk
        ("95", GE, "5", "90.2499", MISSED),
        ("95", GE, "5", "0", MISSED),
        # ≤ 15 分钟 with 5 %: at risk up to 15 + 0.75 = 15.75 inclusive
        ("15", LE, "5", "3", ON_TRACK),
        ("15", LE, "5", "15", ON_TRACK),
        ("15", LE, "5", "15.0001", AT_RISK),
        ("15", LE, "5", "15.75", AT_RISK),
        ("15", LE, "5", "15.7501", MISSED),
        # ≤ 0.5 ‰ with 10 %: the edge is 0.55
        ("0.5", LE, "10", "0.55", AT_RISK),
        ("0.5", LE, "10", "0.5501", MISSED),
        # no tolerance: any miss is missed
        ("100", GE, "0", "99.9999", MISSED),
        ("100", GE, "0", "100", ON_TRACK),
        # a zero target leaves no room to be at risk
        ("0", LE, "5", "0.0001", MISSED),
        ("0", LE, "5", "0", ON_TRACK),
    ],
)
def test_status(target, direction, tolerance, value, expected):
    assert services.compute_status(D(target), direction, D(tolerance), D(value)) == expected


def test_status_of_a_measurement_uses_its_objective(make_objective, add_measurement, org):
    objective = make_objective(org.kf, target="98", tolerance="2")  # at risk down to 96.04
    m = add_measurement(objective, date(2025, 1, 1), "96.04")
    assert services.measurement_status(objective, m) == AT_RISK
    assert objective.current_status == AT_RISK


# == periods ========================================================================================
@pytest.mark.parametrize(
    "period, day, start, end",
    [
        (MONTH, date(2025, 2, 14), date(2025, 2, 1), date(2025, 2, 28)),
        (MONTH, date(2024, 2, 29), date(2024, 2, 1), date(2024, 2, 29)),
        (MONTH, date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31)),
        (QUARTER, date(2025, 2, 14), date(2025, 1, 1), date(2025, 3, 31)),
        (QUARTER, date(2025, 6, 30), date(2025, 4, 1), date(2025, 6, 30)),
        (QUARTER, date(2025, 11, 1), date(2025, 10, 1), date(2025, 12, 31)),
        (YEAR, date(2025, 7, 9), date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_period_bounds(period, day, start, end):
    assert services.period_start_of(period, day) == start
    assert services.period_end(period, start) == end


@pytest.mark.parametrize(
    "today, period, closed",
    [
        (date(2025, 4, 1), MONTH, date(2025, 3, 1)),
        (date(2025, 4, 1), QUARTER, date(2025, 1, 1)),
        (date(2025, 4, 1), YEAR, date(2024, 1, 1)),
        (date(2025, 1, 15), MONTH, date(2024, 12, 1)),
        (date(2025, 1, 15), QUARTER, date(2024, 10, 1)),
        (date(2025, 3, 31), QUARTER, date(2024, 10, 1)),  # Q1 has not ended on its last day
    ],
)
def test_last_closed_period(today, period, closed):
    assert services.last_closed_period_start(period, today) == closed


def test_recent_period_starts_newest_first():
    assert services.recent_period_starts(QUARTER, date(2025, 5, 5), 3) == [
        date(2025, 4, 1), date(2025, 1, 1), date(2024, 10, 1)]
    assert services.recent_period_starts(MONTH, date(2025, 1, 20), 2) == [date(2025, 1, 1), date(2024, 12, 1)]


TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    "period, value, ok",
    [
        (MONTH, "2025-02-01", True),
        (MONTH, "2025-06-01", True),  # the current month may be reported
        (MONTH, "2025-02-02", False),
        (MONTH, "2025-07-01", False),  # has not started
        (QUARTER, "2025-01-01", True),
        (QUARTER, "2025-04-01", True),
        (QUARTER, "2024-10-01", True),
        (QUARTER, "2025-02-01", False),  # the example: not the first day of a quarter
        (QUARTER, "2025-03-01", False),
        (QUARTER, "2025-07-01", False),  # future
        (YEAR, "2025-01-01", True),
        (YEAR, "2024-01-01", True),
        (YEAR, "2025-07-01", False),
        (YEAR, "2026-01-01", False),  # future
        (MONTH, "1999-12-01", False),
        (MONTH, "2025/02/01", False),
        (MONTH, "2025-02-30", False),
        (MONTH, "", False),
        (MONTH, "二月", False),
    ],
)
def test_period_alignment(period, value, ok):
    if ok:
        assert services.clean_period_start(period, value, TODAY) == date.fromisoformat(value)
    else:
        with pytest.raises(ServiceError) as exc:
            services.clean_period_start(period, value, TODAY)
        assert [field for field, _m in exc.value.errors] == ["period_start"]


def test_alignment_message_names_the_quarter_starts(app):
    from flask_babel import force_locale

    with pytest.raises(ServiceError) as exc:
        services.clean_period_start(QUARTER, date(2025, 2, 1), TODAY)
    assert "4 月 1 日" in str(exc.value)  # Chinese by default
    with force_locale("en"), pytest.raises(ServiceError) as exc:
        services.clean_period_start(QUARTER, date(2025, 2, 1), TODAY)
    assert "1 April" in str(exc.value)


# == numbers ========================================================================================
@pytest.mark.parametrize(
    "raw, expected",
    [("95", "95"), (" 95.5 ", "95.5"), ("０.５", "0.5"), ("-3", "-3"), ("1e2", "100"), (97.125, "97.125"),
     (0.1 + 0.2, "0.3"), (Decimal("0.00005"), "0.0001"), (3, "3")],
)
def test_parse_number(raw, expected):
    assert services.parse_number(raw, "value") == Decimal(expected)


@pytest.mark.parametrize("raw", ["abc", "95%", "nan", "inf", "-Infinity", "1.23456", "1e12", "9" * 13, "", "  ", None])
def test_parse_number_refuses(raw):
    with pytest.raises(ServiceError) as exc:
        services.parse_number(raw, "value")
    assert exc.value.errors[0][0] == "value"


def test_format_decimal():
    assert [format_decimal(D(v)) for v in ("95.0000", "0.5000", "99.9100", "-0.0000", "100")] == [
        "95", "0.5", "99.91", "0", "100"]


# == sparkline ======================================================================================
def test_sparkline_geometry(make_objective, add_measurement, org):
    objective = make_objective(org.kf, target="95")
    ms = [add_measurement(objective, date(2024, m, 1), v) for m, v in ((1, 90), (2, 100), (3, 95))]
    spark = services.sparkline(objective, ms, width=100, height=50, pad=5)
    assert [(p.x, p.y) for p in spark.points] == [(5, 45), (50, 5), (95, 25)]  # highest value at the top
    assert spark.target_y == 25
    assert spark.polyline == "5,45 50,5 95,25"
    assert [p.status for p in spark.points] == [MISSED, ON_TRACK, ON_TRACK]
    assert services.sparkline(objective, []) is None


def test_sparkline_keeps_the_last_twelve_and_survives_flat_data(make_objective, add_measurement, org):
    objective = make_objective(org.kf, target="95")
    ms = [add_measurement(objective, date(2023 + (i // 12), i % 12 + 1, 1), 95) for i in range(15)]
    spark = services.sparkline(objective, ms)
    assert len(spark.points) == 12 and spark.points[0].label == services.period_label(MONTH, date(2023, 4, 1))
    assert len({p.y for p in spark.points}) == 1 and spark.target_y == spark.points[0].y  # flat: no division by 0
    single = services.sparkline(objective, ms[:1], width=120)
    assert len(single.points) == 1 and single.points[0].x == 60
