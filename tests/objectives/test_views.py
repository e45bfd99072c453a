"""The pages: each plain and with htmx headers; forms with 422 re-rendering; who may reach which endpoint."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.objectives import registry, services
from portal.objectives.models import LE, MISSED, MONTH, QUARTER, Objective
from tests.helpers import HX, assert_full_page, assert_page, assert_partial, audit, field_has_error, flashes, text
from tests.objectives.helpers import db_state, measurements_of, missed_notifications, polylines

BASE = "/quality/objectives"


def last_month() -> date:
    return services.last_closed_period_start(MONTH, services.local_today())


def months_back(n: int) -> date:
    start = last_month()
    for _ in range(n):
        start = services.previous_period_start(MONTH, start)
    return start


def objective_form(department, **overrides) -> dict:
    data = {"name": "热线接通率", "department_id": str(department.id), "process_id": "", "metric_definition": "20 秒内接通数 ÷ 来电数",
            "unit": "%", "direction": "ge", "target": "90", "period": "month", "data_source": "manual",
            "tolerance_percent": "5"}
    data.update(overrides)
    return data


@pytest.fixture
def kf_objective(org, make_objective):
    return make_objective(org.kf, name="客户满意度", target="95")


@pytest.fixture
def measured(org, make_objective, add_measurement):
    """An objective with 14 monthly values up to last month (so the sparkline keeps 12), the latest missed."""
    objective = make_objective(org.kf, name="投诉处理及时率", target="98", tolerance="2")
    for i in range(14, 0, -1):
        add_measurement(objective, months_back(i), 98.5)
    add_measurement(objective, last_month(), 90)
    return objective


# == navigation and list ============================================================================
def test_navigation_entry_for_everyone(client_for, org):
    page = text(client_for(org.employee).get("/"))
    assert f'href="{BASE}/"' in page


def test_list_page_and_partial(client_for, org, measured, make_objective):
    make_objective(org.ops, name="平均等候时间", target="15", direction=LE, unit="分钟")
    client = client_for(org.employee)
    page = assert_full_page(client.get(f"{BASE}/"))
    assert 'id="objective-filters"' in page and 'id="objective-table"' in page
    assert "New objective" not in page  # employees read only
    partial = assert_partial(client.get(f"{BASE}/", headers=HX))
    assert partial.lstrip().startswith('<div id="objective-table">')
    row = re.search(rf'<tr id="objective-{measured.id}">.*?</tr>', partial, re.S).group(0)
    assert "≥ 98%" in row and "90%" in row and 'data-status="missed"' in row
    assert [len(p) for p in polylines(row)] == [12]
    assert "style=" not in page and "<script>" not in page and "hx-on" not in page


def test_list_filters_over_http(client_for, org, measured, make_objective):
    other = make_objective(org.ops, name="平均等候时间", target="15", direction=LE, unit="分钟")
    client = client_for(org.quality)

    def ids(**params):
        return [int(i) for i in re.findall(r'<tr id="objective-(\d+)"', text(client.get(f"{BASE}/", query_string=params, headers=HX)))]

    assert set(ids()) >= {measured.id, other.id}
    assert ids(q="等候") == [other.id]
    assert ids(department=org.kf.id) == [measured.id]
    assert ids(status=MISSED, department=org.kf.id) == [measured.id]
    assert other.id in ids(status="none") and measured.id not in ids(status="none")
    assert ids(period="quarter", department=org.kf.id) == []
    assert ids(active="inactive", department=org.kf.id) == []


# == detail =========================================================================================
def test_detail_page_and_partial(client_for, org, measured):
    client = client_for(org.employee)
    page = assert_full_page(client.get(f"{BASE}/{measured.id}"))
    assert "投诉处理及时率" in page and "≥ 98%" in page
    assert [len(p) for p in polylines(page)] == [12]  # the last 12 of 15 values
    assert page.count("<circle") == 12
    assert len(re.findall(r'<tr id="measurement-\d+"', page)) == 15
    assert page.count('data-status="missed"') >= 2  # the header badge and the latest row
    assert 'id="measurement-form"' not in page and 'id="objective-actions"' not in page  # read only
    partial = assert_partial(client.get(f"{BASE}/{measured.id}", headers=HX))
    assert partial.lstrip().startswith('<div id="objective-detail">') and 'class="sparkline sparkline-lg"' in partial
    assert "style=" not in page


def test_detail_shows_the_controls_by_permission(client_for, org, measured):
    manager = text(client_for(org.quality).get(f"{BASE}/{measured.id}"))
    assert 'id="objective-actions"' in manager and 'id="measurement-form"' in manager
    assert f'action="{BASE}/{measured.id}/delete"' not in manager  # it has values: deactivate only
    own_head = text(client_for(org.head_kf).get(f"{BASE}/{measured.id}"))
    assert 'id="measurement-form"' in own_head and 'id="objective-actions"' not in own_head
    other_head = text(client_for(org.head_ops).get(f"{BASE}/{measured.id}"))
    assert other_head.count('id="measurement-form"') == 0  # may read, may not enter


def test_detail_without_values(client_for, org, kf_objective):
    page = assert_full_page(client_for(org.quality).get(f"{BASE}/{kf_objective.id}"))
    assert polylines(page) == [] and 'data-status="none"' in page and f'action="{BASE}/{kf_objective.id}/delete"' in page


def test_detail_shows_registered_missed_actions(client_for, org, measured):
    def capa(objective, measurement):
        return [("Open a corrective action", f"/capa/new?objective={objective.id}")]

    registry.register_missed_action(capa)
    try:
        page = text(client_for(org.employee).get(f"{BASE}/{measured.id}"))
    finally:
        registry.unregister_missed_action(capa)
    assert page.count('class="btn btn-outline-danger btn-sm missed-action"') == 1  # the one missed value
    assert f'href="/capa/new?objective={measured.id}"' in page


def test_unknown_objective_is_404(client_for, org):
    client = client_for(org.quality)
    assert client.get(f"{BASE}/999999").status_code == 404
    assert assert_partial(client.get(f"{BASE}/999999", headers=HX), 404)


# == create and edit ================================================================================
def test_create_objective(client_for, org):
    client = client_for(org.quality)
    assert_full_page(client.get(f"{BASE}/new"))
    assert assert_partial(client.get(f"{BASE}/new", headers=HX)).lstrip().startswith("<form")
    response = client.post(f"{BASE}/new", data=objective_form(org.kf))
    objective = db.session.scalar(sa.select(Objective).where(Objective.name == "热线接通率"))
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{objective.id}"
    assert objective.target == Decimal("90") and objective.department_id == org.kf.id
    assert audit("objective.create", objective)[0].actor_id == org.quality.id
    assert [c for c, _m in flashes(text(client.get(f"{BASE}/{objective.id}")))] == ["success"]


def test_create_objective_via_htmx(client_for, org):
    response = client_for(org.admin).post(f"{BASE}/new", data=objective_form(org.ops, name="业务差错率"), headers=HX)
    objective = db.session.scalar(sa.select(Objective).where(Objective.name == "业务差错率"))
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{BASE}/{objective.id}"


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"target": "九十"}, "target"),
        ({"target": "90%"}, "target"),
        ({"department_id": "999999"}, "department_id"),
        ({"department_id": "abc"}, "department_id"),
        ({"process_id": "999999"}, "process_id"),
        ({"direction": "eq"}, "direction"),
        ({"period": "week"}, "period"),
        ({"data_source": "unknown.metric"}, "data_source"),
        ({"tolerance_percent": "abc"}, "tolerance_percent"),
    ],
)
def test_create_objective_validation(client_for, org, overrides, field, hx):
    client = client_for(org.quality)
    state = db_state()
    response = client.post(f"{BASE}/new", data=objective_form(org.kf, **overrides), headers=HX if hx else {})
    body = assert_page(response, hx, 422)
    if hx:
        assert body.lstrip().startswith("<form")
    assert field_has_error(body, field), body
    assert db_state() == state


def test_negative_target_is_accepted(client_for, org):
    response = client_for(org.quality).post(f"{BASE}/new", data=objective_form(org.kf, name="温差", target="-5", unit="℃"))
    assert response.status_code == 303


def test_edit_objective(client_for, org, kf_objective):
    client = client_for(org.quality)
    page = assert_full_page(client.get(f"{BASE}/{kf_objective.id}/edit"))
    assert 'name="target" type="text" value="95"' in page and 'value="5"' in page
    assert assert_partial(client.get(f"{BASE}/{kf_objective.id}/edit", headers=HX)).lstrip().startswith("<form")
    response = client.post(f"{BASE}/{kf_objective.id}/edit", data=objective_form(org.kf, name="客户满意度", target="96"))
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{kf_objective.id}"
    assert kf_objective.target == Decimal("96")
    [event] = audit("objective.update", kf_objective)
    assert event.summary["before"]["target"] == "95" and event.summary["after"]["target"] == "96"
    bad = client.post(f"{BASE}/{kf_objective.id}/edit", data=objective_form(org.kf, target="x"), headers=HX)
    assert field_has_error(assert_partial(bad, 422), "target") and kf_objective.target == Decimal("96")


def test_deactivate_and_reactivate(client_for, org, measured):
    client = client_for(org.quality)
    response = client.post(f"{BASE}/{measured.id}/active", data={"active": "0"})
    assert response.status_code == 303 and measured.active is False
    page = text(client.get(f"{BASE}/{measured.id}"))
    assert '<input type="hidden" name="active" value="1">' in page and 'id="measurement-form"' not in page  # no values for a deactivated objective
    response = client.post(f"{BASE}/{measured.id}/active", data={"active": "1"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{BASE}/{measured.id}"
    assert measured.active is True


def test_delete_only_without_values(client_for, org, measured, kf_objective):
    client = client_for(org.admin)
    refused = client.post(f"{BASE}/{measured.id}/delete")
    assert refused.status_code == 303 and db.session.get(Objective, measured.id) is not None
    assert [c for c, _m in flashes(text(client.get(f"{BASE}/{measured.id}")))] == ["danger"]
    objective_id = kf_objective.id
    response = client.post(f"{BASE}/{objective_id}/delete", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"{BASE}/"
    assert db.session.get(Objective, objective_id) is None


# == measurements ===================================================================================
def test_measurement_form_page_and_partial(client_for, org, measured):
    client = client_for(org.head_kf)
    page = assert_full_page(client.get(f"{BASE}/{measured.id}/measurements"))
    assert 'id="objective-measurements"' in page and 'id="measurement-form"' in page
    # defaults to last month, prefilled with its stored value
    assert f'<option selected value="{last_month().isoformat()}">' in page and 'name="value" type="text" value="90"' in page
    partial = assert_partial(client.get(f"{BASE}/{measured.id}/measurements", headers=HX,
                                        query_string={"period": months_back(3).isoformat()}))
    assert partial.lstrip().startswith('<form id="measurement-form"')
    assert f'<option selected value="{months_back(3).isoformat()}">' in partial and 'value="98.5"' in partial
    # the period select reloads the form for the chosen period (?period_start=…)
    empty = assert_partial(client.get(f"{BASE}/{measured.id}/measurements", headers=HX,
                                      query_string={"period_start": months_back(20).isoformat()}))
    assert 'name="value" type="text" value=""' in empty


def test_enter_a_value_plain(client_for, org, kf_objective):
    client = client_for(org.head_kf)
    period = last_month().isoformat()
    response = client.post(f"{BASE}/{kf_objective.id}/measurements", data={"period_start": period, "value": "96.5", "note": "月度测评"})
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/{kf_objective.id}"
    [m] = measurements_of(kf_objective)
    assert (m.value, m.note, m.entered_by_id) == (Decimal("96.5"), "月度测评", org.head_kf.id)
    assert [c for c, _m in flashes(text(client.get(f"{BASE}/{kf_objective.id}")))] == ["success"]


def test_enter_a_value_via_htmx_twice_updates(client_for, org, kf_objective):
    client = client_for(org.quality)
    period = last_month().isoformat()
    url = f"{BASE}/{kf_objective.id}/measurements"
    first = assert_partial(client.post(url, data={"period_start": period, "value": "96"}, headers=HX))
    assert first.lstrip().startswith('<section id="objective-measurements"')
    assert 'role="status"' in first and 'hx-swap-oob="true"' in first and 'data-status="on_track"' in first
    assert [len(p) for p in polylines(first)] == [1]
    refused = client.post(url, data={"period_start": period, "value": "80"}, headers=HX)  # a correction needs a reason
    assert refused.status_code == 422 and field_has_error(refused.get_data(as_text=True), "reason")
    second = assert_partial(client.post(url, data={"period_start": period, "value": "80", "reason": "复核更正"},
                                        headers=HX))
    [m] = measurements_of(kf_objective)
    assert m.value == Decimal("80") and kf_objective.current_status == MISSED
    assert 'id="objective-status" hx-swap-oob="true"><span class="badge text-bg-danger' in second
    assert len(audit("objective.measurement_update", m)) == 1
    [note] = missed_notifications(org.head_kf)
    assert note.link == f"{BASE}/{kf_objective.id}"


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("case", ["not_a_number", "empty", "misaligned", "future", "garbage_period", "long_note"])
def test_bad_values_are_refused(client_for, org, kf_objective, hx, case):
    data = {"period_start": last_month().isoformat(), "value": "96", "note": ""}
    field = {"not_a_number": "value", "empty": "value", "misaligned": "period_start", "future": "period_start",
             "garbage_period": "period_start", "long_note": "note"}[case]
    if case == "not_a_number":
        data["value"] = "九十六"
    elif case == "empty":
        data["value"] = ""
    elif case == "misaligned":
        data["period_start"] = last_month().replace(day=2).isoformat()
    elif case == "future":
        data["period_start"] = services.next_period_start(MONTH, services.local_today()).isoformat()
    elif case == "garbage_period":
        data["period_start"] = "2025-13-01"
    else:
        data["note"] = "注" * 1001
    client = client_for(org.quality)
    state = db_state()
    response = client.post(f"{BASE}/{kf_objective.id}/measurements", data=data, headers=HX if hx else {})
    body = assert_page(response, hx, 422)
    if hx:
        assert body.lstrip().startswith('<section id="objective-measurements"') and 'role="status"' not in body
    assert field_has_error(body, field), body
    assert db_state() == state


def test_quarterly_objective_refuses_a_month_that_starts_no_quarter(client_for, org, make_objective):
    objective = make_objective(org.kf, name="员工培训完成率", period=QUARTER, target="100")
    year = services.local_today().year - 1
    client = client_for(org.quality)
    state = db_state()
    response = client.post(f"{BASE}/{objective.id}/measurements",
                                            data={"period_start": f"{year}-02-01", "value": "96"}, headers=HX)
    body = assert_partial(response, 422)
    assert field_has_error(body, "period_start") and "4 月 1 日" in body
    assert db_state() == state
    ok = client.post(f"{BASE}/{objective.id}/measurements",
                                      data={"period_start": f"{year}-04-01", "value": "96"})
    assert ok.status_code == 303 and len(measurements_of(objective)) == 1


# == who may reach what =============================================================================
def _requests(objective, department):
    period = last_month().isoformat()
    return {
        "new_get": ("get", f"{BASE}/new", None),
        "new_post": ("post", f"{BASE}/new", objective_form(department, name="新目标")),
        "edit_get": ("get", f"{BASE}/{objective.id}/edit", None),
        "edit_post": ("post", f"{BASE}/{objective.id}/edit", objective_form(department, name="改名")),
        "active": ("post", f"{BASE}/{objective.id}/active", {"active": "0"}),
        "delete": ("post", f"{BASE}/{objective.id}/delete", {}),
        "measure_get": ("get", f"{BASE}/{objective.id}/measurements", None),
        "measure_post": ("post", f"{BASE}/{objective.id}/measurements", {"period_start": period, "value": "96"}),
    }


# expected status per role, for an objective of the KF department
EXPECTED = {
    "admin": {"new_get": 200, "new_post": 303, "edit_get": 200, "edit_post": 303, "active": 303, "delete": 303,
              "measure_get": 200, "measure_post": 303},
    "quality": {"new_get": 200, "new_post": 303, "edit_get": 200, "edit_post": 303, "active": 303, "delete": 303,
                "measure_get": 200, "measure_post": 303},
    "head_kf": {"new_get": 403, "new_post": 403, "edit_get": 403, "edit_post": 403, "active": 403, "delete": 403,
                "measure_get": 200, "measure_post": 303},
    "head_ops": {"new_get": 403, "new_post": 403, "edit_get": 404, "edit_post": 404, "active": 404, "delete": 404,
                 "measure_get": 404, "measure_post": 404},
    "headless": {"new_get": 403, "new_post": 403, "edit_get": 404, "edit_post": 404, "active": 404, "delete": 404,
                 "measure_get": 404, "measure_post": 404},
    "employee": {"new_get": 403, "new_post": 403, "edit_get": 403, "edit_post": 403, "active": 403, "delete": 403,
                 "measure_get": 403, "measure_post": 403},
}
ENDPOINTS = list(EXPECTED["admin"])


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_access_matrix(client_for, org, kf_objective, role, endpoint, hx):
    client = client_for(getattr(org, role))
    method, url, data = _requests(kf_objective, org.kf)[endpoint]
    expected = EXPECTED[role][endpoint]
    state = db_state()
    kwargs = {"headers": HX} if hx else {}
    if data is not None:
        kwargs["data"] = data
    response = getattr(client, method)(url, **kwargs)
    if hx and expected == 303:
        # htmx gets HX-Redirect instead of a redirect; a value entered with htmx gets the refreshed panel
        expected = 200 if endpoint == "measure_post" else 204
    assert response.status_code == expected, text(response)[:500]
    if expected in (403, 404):
        assert db_state() == state  # refused: nothing written
        if hx:
            assert_partial(response, expected)
        else:
            assert_full_page(response, expected)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_everyone_reads(client_for, org, measured, role):
    client = client_for(getattr(org, role))
    assert client.get(f"{BASE}/").status_code == 200
    assert client.get(f"{BASE}/{measured.id}").status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS + ["index", "detail"])
def test_anonymous_is_sent_to_login(client, org, kf_objective, endpoint):
    requests = _requests(kf_objective, org.kf)
    requests["index"] = ("get", f"{BASE}/", None)
    requests["detail"] = ("get", f"{BASE}/{kf_objective.id}", None)
    method, url, data = requests[endpoint]
    response = client.get(url) if method == "get" else client.post(url, data=data or {})
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
