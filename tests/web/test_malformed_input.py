"""The HTTP 500s of the first security review, each one: malformed input is a 404 or a 422 that keeps what
the user typed and says in Chinese what is wrong (tests/test_fuzz.py covers the class)."""
from __future__ import annotations

from datetime import date

import pytest

from portal.core.parsing import optional_id, parse_date, parse_decimal, parse_id, parse_int, NumberError
from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.extensions import db
from portal.objectives import services as objectives
from tests.helpers import HX, msg

HUGE = str(2**63)


@pytest.fixture
def admin_web(client_for, make_user):
    return client_for(make_user(roles=(ADMIN,)))


@pytest.mark.parametrize("query", [f"department={HUGE}", f"page={2**63}", f"process={10**30}", "department=%C2%B2",
                                   "page=-1", "page=%EF%BC%91"])
def test_objective_list_ignores_ids_no_database_holds(admin_web, query):
    assert admin_web.get(f"/quality/objectives/?{query}").status_code == 200


@pytest.mark.parametrize("query", ["dept=%C2%B2", f"dept={HUGE}", "dept=1&dept=x&dept=-3", "clause=%C2%B2"])
def test_matrix_ignores_unusable_department_ids(admin_web, query):
    assert admin_web.get(f"/quality/matrix/?{query}").status_code == 200


@pytest.mark.parametrize("query", ["start=0001-01-01", "end=9999-12-31", "start=2026-02-30", "end=%EF%BC%92"])
@pytest.mark.parametrize("path", ["/admin/audit/", "/admin/audit/export.xlsx"])
def test_audit_dates_out_of_range_are_ignored(admin_web, path, query):
    assert admin_web.get(f"{path}?{query}").status_code == 200


def _objective_form(department_id: int, **overrides) -> dict:
    data = {"name": "热线接通率", "department_id": str(department_id), "process_id": "", "metric_definition": "",
            "unit": "%", "direction": "ge", "target": "90", "period": "month", "data_source": "manual",
            "tolerance_percent": "5"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("target", ["1e999999", "9" * 25, "-1e999999"])
@pytest.mark.parametrize("hx", [False, True])
def test_a_huge_target_is_a_chinese_422_that_keeps_the_input(client_for, make_user, make_department, target, hx):
    quality = make_user(roles=(QUALITY_MANAGER,))
    dept = make_department("客服部")
    response = client_for(quality).post("/quality/objectives/new", data=_objective_form(dept.id, target=target),
                                        headers=HX if hx else {})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert msg("The number is too large.") in page
    assert f'value="{target}"' in page  # what the user typed is still in the field


@pytest.mark.parametrize("value, message", [
    ("1e999999", "The number is too large."),
    ("-5", None),
    ("1e10", None),  # within the column, but not a percentage
])
def test_a_measurement_out_of_range_is_a_422(client_for, make_user, make_department, value, message):
    quality = make_user(roles=(QUALITY_MANAGER,))
    dept = make_department("客服部")
    objective = objectives.create_objective(quality, objectives.ObjectiveData(
        name="满意率", department_id=dept.id, target="95", unit="%"))
    db.session.commit()
    period = objectives.previous_period_start("month", date.today().replace(day=1)).isoformat()
    response = client_for(quality).post(f"/quality/objectives/{objective.id}/measurements", headers=HX,
                                        data={"period_start": period, "value": value, "note": ""})
    assert response.status_code == 422
    expected = msg(message) if message else msg("A value in %(unit)s must be between %(low)s and %(high)s.",
                                                 unit="%", low="0", high="100")
    assert expected in response.get_data(as_text=True)


@pytest.mark.parametrize("path, data", [
    ("/admin/org/users/new", {"username": "newbie", "display_name": "新人", "email": "n@example.cn",
                              "department_id": HUGE, "roles": "employee"}),
    ("/admin/notify/webhooks", {"department_id": HUGE, "platform": "wecom", "url": "https://qyapi.weixin.qq.com/x"}),
])
def test_a_department_id_beyond_the_database_is_a_422(admin_web, path, data):
    response = admin_web.post(path, data=data)
    assert response.status_code == 422
    assert "newbie" in response.get_data(as_text=True) or "qyapi" in response.get_data(as_text=True)


def test_the_parsers_bound_everything():
    assert parse_int("²") is None and parse_int("١٢") is None and parse_int(HUGE) is None
    assert parse_int("-3", minimum=-5) == -3 and parse_int("-3") is None and parse_int(True) is None
    assert parse_id("0") is None and parse_id("12") == 12 and parse_id(2**31) is None
    assert parse_date("0001-01-01") is None and parse_date("9999-12-31") is None
    assert parse_date("２０２６-１２-０２") == date(2026, 12, 2) and parse_date(date(1, 1, 1)) is None
    assert optional_id("0") is None and optional_id("7") == 7
    with pytest.raises(ValueError):
        optional_id(HUGE)
    for bad, kind in [("1e999999", "too_large"), ("nan", "not_a_number"), ("1.23456", "places"), ("", "empty")]:
        with pytest.raises(NumberError) as refused:
            parse_decimal(bad, places=4, max_abs=10**12)
        assert refused.value.kind == kind
