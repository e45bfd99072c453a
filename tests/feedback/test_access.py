"""Who sees which feedback and which service points: per role and per department, in the services and over
HTTP (plain and htmx). A head of department A sees nothing of B (404, not an empty page); a rating that names
a clerk names them only to the quality manager and the clerk's head."""
from __future__ import annotations

import pytest

from portal.core.errors import NotFound, PermissionDenied
from portal.core.roles import ADMIN
from portal.extensions import db
from portal.feedback import services
from tests.feedback.helpers import make_point, make_staff_code, receive
from tests.helpers import HX, create_user, text


@pytest.fixture
def org(matrix_org):
    """Two departments with a point each, a clerk with a staff code at KF's point, feedback at both."""
    kf, yy = matrix_org.depts["KF"], matrix_org.depts["YY"]
    kf_point = make_point("KF01", kf, name="客服一号窗口")
    yy_point = make_point("YY01", yy, name="运营一号窗口")
    clerk = create_user("clerk_kf", department=kf, display_name="窗口柜员甲")
    staff_code = make_staff_code(kf_point, clerk)
    kf_item = services.receive(services.Submission(rating=2, comment="客服部的意见"), services.Intake(
        channel="kiosk", idempotency_key="t:kf", point=kf_point, staff_code=staff_code)).feedback
    yy_item = receive(yy_point, rating=5, comment="运营部的意见").feedback
    admin = create_user("admin_fb", roles=(ADMIN,), department=matrix_org.depts["ZH"])
    db.session.commit()
    return dict(m=matrix_org, kf_point=kf_point, yy_point=yy_point, clerk=clerk, kf_item=kf_item, yy_item=yy_item,
                admin=admin, kf_head=matrix_org.heads["KF"], yy_head=matrix_org.heads["YY"],
                employee=matrix_org.employee, qm=matrix_org.qm)


# -- the services -----------------------------------------------------------------------------------------
def test_list_scope_by_role_and_department(org):
    seen = lambda user: {f.comment for f in services.list_feedback(user, services.FeedbackFilters()).items}  # noqa: E731
    assert seen(org["qm"]) == seen(org["admin"]) == {"客服部的意见", "运营部的意见"}
    assert seen(org["kf_head"]) == {"客服部的意见"}
    assert seen(org["yy_head"]) == {"运营部的意见"}
    assert seen(org["employee"]) == {"客服部的意见"}  # an employee of KF: their own department's feedback
    outsider = create_user("outsider_fb")  # in a department of their own, with no feedback
    assert seen(outsider) == set()


def test_another_departments_item_does_not_exist_for_a_head(org):
    with pytest.raises(NotFound):
        services.get_feedback(org["yy_head"], org["kf_item"].id)
    with pytest.raises(NotFound):
        services.get_feedback(org["kf_head"], org["yy_item"].id)
    assert services.get_feedback(org["kf_head"], org["kf_item"].id) is org["kf_item"]


def test_the_clerk_is_named_only_to_the_quality_manager_and_the_clerks_head(org):
    from portal.feedback.access import may_see_staff

    item = org["kf_item"]
    assert may_see_staff(org["qm"], item) and may_see_staff(org["kf_head"], item)
    for user in (org["admin"], org["employee"], org["clerk"], org["yy_head"]):
        assert not may_see_staff(user, item), user.username


def test_moderation_needs_the_departments_head_or_a_manager(org):
    with pytest.raises(PermissionDenied):
        services.set_spam(org["employee"], org["kf_item"], True)
    with pytest.raises(PermissionDenied):
        services.set_spam(org["yy_head"], org["kf_item"], True)
    services.set_spam(org["kf_head"], org["kf_item"], True)
    assert org["kf_item"].is_spam
    with pytest.raises(PermissionDenied):
        services.reissue_query_code(org["employee"], org["kf_item"])


def test_service_points_by_role(org):
    fields = services.PointFields(code="NEW1", name="新窗口", location="", department_id=org["kf_point"].department_id,
                                  process_id=None, opening_hours="", categories_text="")
    for user in (org["kf_head"], org["employee"]):
        with pytest.raises(PermissionDenied):
            services.create_point(user, fields)
    assert services.create_point(org["qm"], fields).code == "NEW1"
    assert [p.code for p in services.list_points(org["kf_head"])] == ["KF01", "NEW1"]  # both in KF
    assert services.list_points(org["employee"]) == []
    with pytest.raises(NotFound):
        services.get_point(org["kf_head"], org["yy_point"].id)
    with pytest.raises(PermissionDenied):
        services.rotate_point_key(org["qm"], org["kf_point"])  # rotating retires posters: administrators only
    services.rotate_point_key(org["admin"], org["kf_point"])
    with pytest.raises(PermissionDenied):
        services.add_staff_code(org["yy_head"], org["kf_point"], org["clerk"].id)


# -- over HTTP --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hx", [False, True])
def test_a_head_gets_404_for_every_page_of_another_departments_item(org, client_for, hx):
    client = client_for(org["yy_head"])
    headers = HX if hx else {}
    item = org["kf_item"]
    assert client.get(f"/feedback/{item.id}", headers=headers).status_code == 404
    assert client.post(f"/feedback/{item.id}/spam", data={"spam": "1"}, headers=headers).status_code == 404
    assert client.post(f"/feedback/{item.id}/query-code", headers=headers).status_code == 404
    listing = text(client.get("/feedback/", headers=headers))
    assert "运营部的意见" in listing and "客服部的意见" not in listing
    assert client.get(f"/service-points/{org['kf_point'].id}", headers=headers).status_code == 404
    assert client.get(f"/service-points/{org['kf_point'].id}/qr.svg", headers=headers).status_code == 404
    db.session.refresh(item)
    assert not item.is_spam


@pytest.mark.parametrize("hx", [False, True])
def test_the_detail_page_names_the_clerk_only_to_those_allowed(org, client_for, hx):
    headers = HX if hx else {}
    item = org["kf_item"]
    for user, named in ((org["qm"], True), (org["kf_head"], True), (org["admin"], False), (org["employee"], False)):
        page = client_for(user).get(f"/feedback/{item.id}", headers=headers)
        assert page.status_code == 200, user.username
        assert ("窗口柜员甲" in text(page)) is named, user.username
        listing = text(client_for(user).get("/feedback/", headers=headers))
        assert ("窗口柜员甲" in listing) is named, user.username


def test_an_employee_may_not_open_the_service_point_pages(org, client_for):
    client = client_for(org["employee"])
    assert client.get("/service-points/").status_code == 403
    assert client.get("/service-points/new").status_code == 403
    # an employee looks after no point at all: refused outright, as on the list
    assert client.get(f"/service-points/{org['kf_point'].id}").status_code == 403
    assert client.post(f"/service-points/{org['kf_point'].id}/rotate").status_code == 403


def test_a_head_looks_after_their_points_staff_codes_but_cannot_edit_or_rotate(org, client_for):
    client = client_for(org["kf_head"])
    point = org["kf_point"]
    assert client.get(f"/service-points/{point.id}").status_code == 200
    assert client.get(f"/service-points/{point.id}/edit").status_code == 403
    secret = point.qr_secret
    client.post(f"/service-points/{point.id}/rotate")
    db.session.refresh(point)
    assert point.qr_secret == secret
    other = create_user("clerk_kf2", department=point.department)
    db.session.commit()
    response = client.post(f"/service-points/{point.id}/staff-codes", data={"user_id": str(other.id)})
    assert response.status_code == 303
    assert [sc.code for sc in point.staff_codes] == ["KF01-01", "KF01-02"]
