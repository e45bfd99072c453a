"""上岗资格 (issue 11, item 6): qualification types and the positions requiring them, people's certificates (who
may enter, edit, withdraw and see them, the scan checked by its content, one row per double click), the
position × person view of a department with its 今天不得上岗 flag, the coverage KPI, the heads' to-dos and the
audit trail's words.

The seeded matrix (tests/helpers.py) gives 客服部 KF and 运营部 YY with their heads; the tests add positions."""
from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.roles import EMPLOYEE
from portal.extensions import db
from portal.org.models import Position
from portal.training import qualifications as q
from portal.training.models import Certificate, QualificationType
from portal.workcal.services import local_today
from tests.helpers import HX, assert_full_page, assert_partial, audit, count, msg

DAY = date(2026, 6, 15)


@pytest.fixture
def qual(org, make_user):
    """客服专员 (KF) and 柜员 (YY) positions requiring 上岗证 (36 months); 大堂经理 (KF) requiring 上岗证 and 急救证
    (never expires); the seeded KF employee is a 客服专员, two more KF people and a YY 柜员."""
    kf, yy = org.depts["KF"], org.depts["YY"]
    clerk = Position(department_id=kf.id, name="客服专员")
    lobby = Position(department_id=kf.id, name="大堂经理")
    teller = Position(department_id=yy.id, name="柜员")
    db.session.add_all([clerk, lobby, teller])
    db.session.flush()
    licence = QualificationType(name="上岗证", validity_months=36, positions=[clerk, lobby, teller])
    first_aid = QualificationType(name="急救证", validity_months=None, positions=[lobby])
    db.session.add_all([licence, first_aid])
    org.employee.position_id = clerk.id
    org.clerk2 = make_user("clerk2", roles=(EMPLOYEE,), department=kf, display_name="客服二号")
    org.clerk2.position_id = clerk.id
    org.lobby = make_user("lobby", roles=(EMPLOYEE,), department=kf, display_name="大堂经理甲")
    org.lobby.position_id = lobby.id
    org.teller = make_user("teller", roles=(EMPLOYEE,), department=yy, display_name="柜员甲")
    org.teller.position_id = teller.id
    db.session.commit()
    org.licence, org.first_aid, org.clerk, org.lobby_position, org.teller_position = licence, first_aid, clerk, lobby, teller
    return org


def fields(type_id, number="SGZ-001", issued_on=DAY - timedelta(days=100), expires_on=None, issuer="人力资源部"):
    return q.CertificateFields(type_id=type_id, number=number, issuer=issuer, issued_on=issued_on,
                               expires_on=expires_on)


def add(actor, person, qualification_type, number, *, issued_on=None, expires_on=None, today=DAY, upload=None):
    return q.add_certificate(actor, person.id, fields(qualification_type.id, number, issued_on or today - timedelta(days=100),
                                                      expires_on), today=today, upload=upload)


# -- files ----------------------------------------------------------------------------------------
def png_bytes(size=(40, 30), fmt="PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


# -- qualification types --------------------------------------------------------------------------
def test_managers_create_and_edit_types_with_their_positions(qual, client_for):
    client = client_for(qual.qm)
    response = client.post("/training/qualifications/types/new",
                           data={"name": "反洗钱培训合格证", "validity_months": "12", "description": "年度",
                                 "position_ids": [str(qual.clerk.id), str(qual.teller_position.id)]})
    assert response.status_code == 303
    created = db.session.scalar(sa.select(QualificationType).where(QualificationType.name == "反洗钱培训合格证"))
    assert created.validity_months == 12 and {p.id for p in created.positions} == {qual.clerk.id, qual.teller_position.id}
    assert audit("qualification.type_create", created)[0].actor_id == qual.qm.id

    page = client.get(f"/training/qualifications/types/{created.id}")
    assert_full_page(page)
    response = client.post(f"/training/qualifications/types/{created.id}",
                           data={"name": "反洗钱培训合格证", "validity_months": "", "position_ids": [str(qual.clerk.id)]})
    assert response.status_code == 303
    db.session.refresh(created)
    assert created.validity_months is None and [p.id for p in created.positions] == [qual.clerk.id]
    assert audit("qualification.type_update", created)

    assert client.post(f"/training/qualifications/types/{created.id}/active", data={"active": "0"}).status_code == 303
    db.session.refresh(created)
    assert not created.active and audit("qualification.type_active", created)


def test_a_type_name_is_unique_and_validity_bounded(qual, client_for):
    client = client_for(qual.qm)
    response = client.post("/training/qualifications/types/new", data={"name": "上岗证", "validity_months": "12"},
                           headers=HX)
    assert response.status_code == 422
    assert msg("A qualification type with this name exists already.") in response.get_data(as_text=True)
    with pytest.raises(ServiceError):
        q.create_type(qual.qm, q.TypeFields("新证", 241))
    assert count(QualificationType) == 2


@pytest.mark.parametrize("who", ["employee", "head"])
def test_types_are_for_managers_only(qual, client_for, who):
    user = qual.employee if who == "employee" else qual.heads["KF"]
    client = client_for(user)
    assert client.get("/training/qualifications/types").status_code == 403
    assert client.get("/training/qualifications/types/new").status_code == 403
    assert client.get(f"/training/qualifications/types/{qual.licence.id}").status_code == 403
    assert client.post("/training/qualifications/types/new", data={"name": "x"}).status_code == 403
    assert client.post(f"/training/qualifications/types/{qual.licence.id}/active", data={"active": "0"}).status_code == 403
    assert count(QualificationType) == 2 and db.session.get(QualificationType, qual.licence.id).active
    with pytest.raises(PermissionDenied):
        q.create_type(user, q.TypeFields("新证", 12))


# -- certificates ---------------------------------------------------------------------------------
def test_expiry_defaults_to_issue_date_plus_validity(qual):
    certificate = q.add_certificate(qual.heads["KF"], qual.employee.id,
                                    fields(qual.licence.id, issued_on=date(2025, 8, 31)), today=DAY)
    assert certificate.expires_on == date(2028, 8, 31)
    never = q.add_certificate(qual.qm, qual.lobby.id, fields(qual.first_aid.id, "JJ-1", issued_on=date(2024, 2, 29)),
                              today=DAY)
    assert never.expires_on is None
    leap = q.add_certificate(qual.qm, qual.lobby.id, fields(qual.licence.id, "SG-9", issued_on=date(2024, 2, 29)),
                             today=DAY)
    assert leap.expires_on == date(2027, 2, 28)
    given = q.add_certificate(qual.qm, qual.clerk2.id, fields(qual.licence.id, "SG-10", expires_on=date(2027, 1, 1)),
                              today=DAY)
    assert given.expires_on == date(2027, 1, 1)
    event = audit("qualification.certificate_add", certificate)[0]
    assert event.actor_id == qual.heads["KF"].id


def test_certificate_fields_are_checked(qual):
    with pytest.raises(ServiceError) as refused:
        q.add_certificate(qual.qm, qual.employee.id, q.CertificateFields(None, "", "", DAY + timedelta(days=1)),
                          today=DAY)
    assert {f for f, _m in refused.value.errors} == {"type_id", "number", "issued_on"}
    with pytest.raises(ServiceError) as refused:
        q.add_certificate(qual.qm, qual.employee.id, fields(qual.licence.id, expires_on=date(2020, 1, 1)), today=DAY)
    assert [f for f, _m in refused.value.errors] == ["expires_on"]
    add(qual.qm, qual.employee, qual.licence, "DUP-1")
    with pytest.raises(ServiceError) as refused:
        add(qual.qm, qual.clerk2, qual.licence, "DUP-1")
    assert [f for f, _m in refused.value.errors] == ["number"]


def test_the_head_records_a_certificate_once_per_form(qual, client_for):
    client = client_for(qual.heads["KF"])
    form = client.get(f"/training/qualifications/people/{qual.employee.id}/new")
    assert_full_page(form)
    html = form.get_data(as_text=True)
    key = html.split('name="request_key" type="hidden" value="')[1].split('"')[0]
    assert len(key) >= 16
    data = {"request_key": key, "type_id": str(qual.licence.id), "number": "SGZ-2026-7", "issuer": "人力资源部",
            "issued_on": (local_today() - timedelta(days=10)).isoformat(), "expires_on": ""}
    first = client.post(f"/training/qualifications/people/{qual.employee.id}/new", data=data)
    second = client.post(f"/training/qualifications/people/{qual.employee.id}/new", data=data)
    assert first.status_code == second.status_code == 303
    rows = db.session.scalars(sa.select(Certificate).where(Certificate.user_id == qual.employee.id)).all()
    assert len(rows) == 1 and rows[0].request_key == key and rows[0].created_by_id == qual.heads["KF"].id
    assert len(audit("qualification.certificate_add")) == 1


def test_a_twin_request_that_lost_the_race_returns_the_first_certificate(qual, monkeypatch):
    """The twin checked for the key before the first committed: its insert hits the unique key, and it answers
    with the first one's certificate (no error, no second row, one audit event)."""
    first = q.add_certificate(qual.qm, qual.employee.id, fields(qual.licence.id, "SG-RACE"), request_key="k" * 20,
                              today=DAY)
    real = q._certificate_with_key
    calls = []

    def not_yet_visible(key):
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(q, "_certificate_with_key", not_yet_visible)
    twin = q.add_certificate(qual.qm, qual.employee.id, fields(qual.licence.id, "SG-RACE-2"), request_key="k" * 20,
                             today=DAY)
    assert twin.id == first.id and len(calls) == 2
    assert count(Certificate) == 1 and len(audit("qualification.certificate_add")) == 1


def test_a_bad_date_is_a_form_error(qual, client_for):
    client = client_for(qual.qm)
    response = client.post(f"/training/qualifications/people/{qual.employee.id}/new", headers=HX,
                           data={"type_id": str(qual.licence.id), "number": "X-1", "issued_on": "2026-02-30"})
    assert response.status_code == 422
    assert_partial(response, 422)
    assert count(Certificate) == 0


def test_who_may_enter_see_and_withdraw_certificates(qual, client_for):
    certificate = add(qual.qm, qual.employee, qual.licence, "SG-1", today=local_today())
    person = f"/training/qualifications/people/{qual.employee.id}"
    # the person sees their own, but enters nothing
    own = client_for(qual.employee)
    assert own.get(person).status_code == 200
    assert own.get(f"{person}/new").status_code == 403
    assert own.get(f"/training/qualifications/certificates/{certificate.id}/edit").status_code == 403
    assert own.post(f"/training/qualifications/certificates/{certificate.id}/revoke",
                    data={"reason": "x"}).status_code == 403
    # a colleague, and the head of another department, do not even learn the person exists
    for outsider in (qual.clerk2, qual.heads["YY"]):
        client = client_for(outsider)
        assert client.get(person).status_code == 404
        assert client.get(f"{person}/new").status_code == 404
        assert client.post(f"{person}/new", data={"type_id": str(qual.licence.id), "number": "Z",
                                                  "issued_on": "2026-01-01"}).status_code == 404
        assert client.get(f"/training/qualifications/certificates/{certificate.id}/edit").status_code == 404
        assert client.post(f"/training/qualifications/certificates/{certificate.id}/revoke",
                           data={"reason": "x"}).status_code == 404
    with pytest.raises(NotFound):
        add(qual.heads["YY"], qual.employee, qual.licence, "SG-2")
    with pytest.raises(PermissionDenied):
        add(qual.employee, qual.employee, qual.licence, "SG-3")
    # the head edits and withdraws
    head = client_for(qual.heads["KF"])
    assert head.get(person).status_code == 200
    edit = head.post(f"/training/qualifications/certificates/{certificate.id}/edit",
                     data={"type_id": str(qual.licence.id), "number": "SG-1A", "issuer": "总行",
                           "issued_on": certificate.issued_on.isoformat(), "expires_on": ""})
    assert edit.status_code == 303
    db.session.refresh(certificate)
    assert certificate.number == "SG-1A" and certificate.issuer == "总行"
    assert audit("qualification.certificate_update", certificate)[0].actor_id == qual.heads["KF"].id
    empty = head.post(f"/training/qualifications/certificates/{certificate.id}/revoke", data={"reason": " "})
    assert empty.status_code == 303 and db.session.get(Certificate, certificate.id).revoked_at is None
    revoke = head.post(f"/training/qualifications/certificates/{certificate.id}/revoke", data={"reason": "录入错误"})
    assert revoke.status_code == 303
    db.session.refresh(certificate)
    assert certificate.revoked_at is not None and certificate.revoked_reason == "录入错误"
    assert not certificate.is_valid_on(local_today())
    event = audit("qualification.certificate_revoke", certificate)[0]
    assert event.actor_id == qual.heads["KF"].id
    with pytest.raises(ServiceError):
        q.revoke_certificate(qual.qm, certificate, "又一次")
    with pytest.raises(ServiceError):
        q.update_certificate(qual.qm, certificate, fields(qual.licence.id, "SG-1B"), today=DAY)
    assert len(audit("qualification.certificate_revoke")) == 1


# -- scans ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, data, mime", [
    ("扫描件.pdf", PDF, "application/pdf"),
    ("photo.PNG", png_bytes(), "image/png"),
    ("photo.jpeg", png_bytes(fmt="JPEG"), "image/jpeg"),
    ("named-wrong.pdf", png_bytes(fmt="JPEG"), "image/jpeg"),
])
def test_scans_are_typed_by_their_content(app, qual, name, data, mime):
    import hashlib
    import os

    certificate = add(qual.qm, qual.employee, qual.licence, "SG-1", upload=(name, data))
    assert certificate.scan_mime_type == mime and certificate.scan_sha256 == hashlib.sha256(data).hexdigest()
    stored_at = os.path.join(app.instance_path, "qualifications", certificate.scan_name)
    assert os.path.isfile(stored_at) and name not in stored_at
    assert certificate.scan_display_name.endswith({"application/pdf": ".pdf", "image/png": ".png",
                                                   "image/jpeg": ".jpg"}[mime])
    _certificate, body = q.scan_of(qual.employee, certificate.id)
    assert body == data


@pytest.mark.parametrize("name, data", [
    ("scan.pdf", b"<html><script>alert(1)</script></html>"),
    ("scan.png", b"MZ\x90\x00" + b"\x00" * 200),
    ("scan.png", png_bytes()[:60]),
    ("scan.gif", png_bytes(fmt="GIF")),
    ("scan.bmp", png_bytes(fmt="BMP")),
    ("scan.docx", docx_bytes()),
    ("scan.pdf", b""),
])
def test_anything_else_is_refused_with_a_clear_message(qual, name, data):
    with pytest.raises(ServiceError) as refused:
        add(qual.qm, qual.employee, qual.licence, "SG-1", upload=(name, data))
    assert [f for f, _m in refused.value.errors] == ["scan"]
    assert count(Certificate) == 0


def test_a_refused_upload_shows_on_the_form(qual, client_for):
    client = client_for(qual.qm)
    response = client.post(f"/training/qualifications/people/{qual.employee.id}/new", headers=HX,
                           data={"type_id": str(qual.licence.id), "number": "X-1",
                                 "issued_on": (local_today() - timedelta(days=3)).isoformat(),
                                 "scan": (io.BytesIO(b"GIF89a not really"), "scan.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert msg("This file is not accepted: upload the scan as a PDF file or a JPEG or PNG picture.") in \
        response.get_data(as_text=True)
    assert count(Certificate) == 0


def test_the_scan_is_downloaded_by_those_allowed_only(qual, client_for):
    client = client_for(qual.heads["KF"])
    response = client.post(f"/training/qualifications/people/{qual.employee.id}/new",
                           data={"type_id": str(qual.licence.id), "number": "X-1",
                                 "issued_on": (local_today() - timedelta(days=3)).isoformat(),
                                 "scan": (io.BytesIO(PDF), "上岗证.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 303
    certificate = db.session.scalar(sa.select(Certificate))
    url = f"/training/qualifications/certificates/{certificate.id}/scan"
    for allowed in (qual.employee, qual.heads["KF"], qual.qm):
        download = client_for(allowed).get(url)
        assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
        assert "attachment" in download.headers["Content-Disposition"]
    for refused in (qual.clerk2, qual.heads["YY"], qual.teller):
        assert client_for(refused).get(url).status_code == 404
    assert client_for(qual.qm).get(f"/training/qualifications/certificates/{certificate.id + 1}/scan").status_code == 404


# -- statuses and the position × person view ------------------------------------------------------
def test_cell_statuses():
    def cert(issued, expires, revoked=False):
        from datetime import datetime, timezone
        return Certificate(issued_on=issued, expires_on=expires,
                           revoked_at=datetime(2026, 1, 1, tzinfo=timezone.utc) if revoked else None)

    day = date(2026, 6, 15)
    assert q.cell_for([], day, required=True).status == q.MISSING
    assert q.cell_for([cert(date(2025, 1, 1), None)], day, required=True).status == q.VALID
    assert q.cell_for([cert(date(2025, 1, 1), day + timedelta(days=61))], day, required=True).status == q.VALID
    assert q.cell_for([cert(date(2025, 1, 1), day + timedelta(days=60))], day, required=True).status == q.EXPIRING
    assert q.cell_for([cert(date(2025, 1, 1), day)], day, required=True).status == q.EXPIRING
    assert q.cell_for([cert(date(2025, 1, 1), day - timedelta(days=1))], day, required=True).status == q.EXPIRED
    assert q.cell_for([cert(date(2025, 1, 1), None, revoked=True)], day, required=True).status == q.MISSING
    assert q.cell_for([cert(day + timedelta(days=1), None)], day, required=True).status == q.MISSING
    renewed = q.cell_for([cert(date(2023, 1, 1), day - timedelta(days=5)), cert(day, day + timedelta(days=700))],
                         day, required=True)
    assert renewed.status == q.VALID and renewed.certificate.expires_on == day + timedelta(days=700)
    assert q.cell_for([], day, required=True).blocking and not q.cell_for([], day, required=False).blocking


def _grid_fixture(qual):
    today = local_today()
    add(qual.qm, qual.employee, qual.licence, "SG-OLD", issued_on=today - timedelta(days=800),
        expires_on=today - timedelta(days=1), today=today)                                   # expired
    add(qual.qm, qual.lobby, qual.licence, "SG-L", issued_on=today - timedelta(days=30), today=today)   # valid
    add(qual.qm, qual.lobby, qual.first_aid, "JJ-L", issued_on=today - timedelta(days=700),
        expires_on=today + timedelta(days=20), today=today)                                 # expiring
    # clerk2 (客服专员): no 上岗证 at all (missing)
    return today


def test_the_department_view_flags_missing_and_expired(qual, client_for):
    today = _grid_fixture(qual)
    grid = q.department_grid(qual.heads["KF"], qual.depts["KF"].id, today)
    rows = {row.user.id: row for row in grid.rows}
    assert [t.name for t in grid.types] == sorted(["上岗证", "急救证"])
    assert rows[qual.employee.id].cells[qual.licence.id].status == q.EXPIRED and rows[qual.employee.id].blocked
    assert rows[qual.clerk2.id].cells[qual.licence.id].status == q.MISSING and rows[qual.clerk2.id].blocked
    lobby = rows[qual.lobby.id]
    assert lobby.cells[qual.licence.id].status == q.VALID and lobby.cells[qual.first_aid.id].status == q.EXPIRING
    assert not lobby.blocked
    assert qual.first_aid.id not in rows[qual.employee.id].cells  # not required of a 客服专员, none held
    assert qual.teller.id not in rows  # another department

    page = client_for(qual.heads["KF"]).get(f"/training/qualifications/department/{qual.depts['KF'].id}")
    html = assert_full_page(page)
    flag = msg("Must not work in the position today")
    for user in (qual.employee, qual.clerk2):
        row = html.split(f'data-user="{user.id}"')[1].split("</tr>")[0]
        assert flag in row
    lobby_row = html.split(f'data-user="{qual.lobby.id}"')[1].split("</tr>")[0]
    assert flag not in lobby_row and 'data-status="expiring"' in lobby_row
    assert 'data-status="expired"' in html and 'data-status="missing"' in html
    partial = client_for(qual.qm).get(f"/training/qualifications/department/{qual.depts['KF'].id}", headers=HX)
    assert flag in assert_partial(partial)


def test_the_department_view_is_for_its_head_and_managers(qual, client_for, admin):
    url = f"/training/qualifications/department/{qual.depts['KF'].id}"
    for allowed in (qual.heads["KF"], qual.qm, admin):
        assert client_for(allowed).get(url).status_code == 200
    for refused in (qual.heads["YY"], qual.employee, qual.teller):
        assert client_for(refused).get(url).status_code == 403
        with pytest.raises(PermissionDenied):
            q.department_grid(refused, qual.depts["KF"].id)
    assert client_for(qual.qm).get("/training/qualifications/department/999999").status_code == 404


def test_the_landing_page_lists_what_the_reader_looks_after(qual, client_for):
    _grid_fixture(qual)
    kf, yy = f"/training/qualifications/department/{qual.depts['KF'].id}", \
        f"/training/qualifications/department/{qual.depts['YY'].id}"
    head = assert_full_page(client_for(qual.heads["KF"]).get("/training/qualifications"))
    assert kf in head and yy not in head
    manager = assert_full_page(client_for(qual.qm).get("/training/qualifications"))
    assert kf in manager and yy in manager and "/training/qualifications/types" in manager
    own = assert_full_page(client_for(qual.employee).get("/training/qualifications"))
    assert kf not in own and msg("Must not work in the position today") in own
    assert f"/training/qualifications/people/{qual.employee.id}" in own
    assert client_for(qual.employee).get("/training/qualifications", headers=HX).status_code == 200


# -- the coverage KPI -----------------------------------------------------------------------------
def test_coverage(qual):
    from portal.objectives.registry import get_metric

    today = _grid_fixture(qual)
    # required pairs: employee, clerk2 (上岗证), lobby (上岗证, 急救证), teller (上岗证) = 5; covered: lobby's two
    assert q.coverage(None, today) == 40.0
    assert q.coverage(qual.depts["KF"].id, today) == 50.0
    assert q.coverage(qual.depts["YY"].id, today) == 0.0
    assert q.coverage(qual.depts["ZH"].id, today) is None
    metric = get_metric(q.METRIC_KEY)
    assert metric is not None and metric.fn(today - timedelta(days=30), today) == 40.0
    # as of a later end, the 急救证 has expired; as of an earlier one, the employee's 上岗证 was still valid
    assert metric.fn(today, today + timedelta(days=21)) == 20.0
    per_department = get_metric(q.DEPARTMENT_METRIC_KEY)
    assert per_department.per_department
    assert per_department.compute(today - timedelta(days=30), today, qual.depts["KF"].id) == 50.0
    assert per_department.compute(today - timedelta(days=30), today, qual.depts["YY"].id) == 0.0
    assert q.coverage(None, today - timedelta(days=1)) == 60.0
    # a withdrawn certificate covers nothing; a deactivated type is required of nobody
    lobby_licence = db.session.scalar(sa.select(Certificate).where(Certificate.number == "SG-L"))
    q.revoke_certificate(qual.qm, lobby_licence, "吊销")
    assert q.coverage(None, today) == 20.0
    q.set_type_active(qual.qm, qual.first_aid, False)
    assert q.coverage(None, today) == 0.0


# -- the heads' to-dos ----------------------------------------------------------------------------
def test_heads_see_expiring_and_expired_certificates_of_their_people(app, qual):
    from portal.home.registry import todo_items

    today = _grid_fixture(qual)
    add(qual.qm, qual.clerk2, qual.licence, "SG-FAR", issued_on=today - timedelta(days=10),
        expires_on=today + timedelta(days=31), today=today)
    add(qual.qm, qual.teller, qual.licence, "SG-T", issued_on=today - timedelta(days=10),
        expires_on=today + timedelta(days=5), today=today)
    todos = {t.certificate.number: t.expired for t in q.head_todos(qual.heads["KF"], today)}
    assert todos == {"SG-OLD": True, "JJ-L": False}
    assert {t.certificate.number for t in q.head_todos(qual.heads["YY"], today)} == {"SG-T"}
    assert q.head_todos(qual.employee, today) == []
    # renewed: the expired one is no longer a to-do
    add(qual.qm, qual.employee, qual.licence, "SG-NEW", issued_on=today - timedelta(days=1), today=today)
    assert {t.certificate.number for t in q.head_todos(qual.heads["KF"], today)} == {"JJ-L"}
    with app.test_request_context("/"):
        items = [i for i in todo_items(qual.heads["KF"]) if i.url.startswith("/training/qualifications/people/")]
    assert len(items) == 1 and items[0].url == f"/training/qualifications/people/{qual.lobby.id}"


# -- audit ----------------------------------------------------------------------------------------
def test_every_qualification_action_has_a_label(app, qual):
    from portal.audit.registry import action_label, object_types

    for code in ("type_create", "type_update", "type_active", "certificate_add", "certificate_update",
                 "certificate_revoke"):
        assert action_label(f"qualification.{code}") != f"qualification.{code}"
    assert object_types.get("qualification_type") and object_types.get("qualification_certificate")
    certificate = add(qual.qm, qual.employee, qual.licence, "SG-A")
    with app.test_request_context("/"):
        resolved = object_types.get("qualification_certificate").resolve([certificate.id])
    assert "SG-A" in resolved[certificate.id][0]


def test_the_audit_trail_shows_qualification_events(qual, client_for, admin):
    add(qual.qm, qual.employee, qual.licence, "SG-A")
    db.session.commit()
    html = client_for(admin).get("/admin/audit/").get_data(as_text=True)
    assert "qualification.certificate_add<" not in html and "SG-A" in html
