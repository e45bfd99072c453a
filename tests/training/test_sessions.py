"""Classroom sessions (培训记录) with real components: the document-control services make documents effective
(which assigns the training through document_effective), the trainer's bulk signature goes through esign with
the password checked, and the attendance sheet is a PDF made by WeasyPrint and read back with pypdf."""
from __future__ import annotations

import io
import re
from datetime import timedelta, timezone
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.types import utcnow
from portal.esign.models import Signature
from portal.esign.services import SignatureRejected
from portal.extensions import db
from portal.training import sessions
from portal.training.models import BY_CLASSROOM, DONE, OPEN, SessionAttendee, TrainingSession
from portal.training.session_forms import local_input, parse_local_datetime
from tests.documents import effective_document
from tests.helpers import DEFAULT_PASSWORD, HX, assert_page, audit, count, field_has_error, reloaded, sh, text
from tests.training.helpers import assignments

BODY_YY = "# 柜面业务办理规范\n\n## 1 目的\n\n规范柜面业务办理。\n"


@pytest.fixture
def docs(org):
    """complaints (T-03: 运营部 YY is its R department and trains), kf (no process: its owner 客服部 KF trains),
    yy (no process, owned by YY) and other (T-03 again, never linked to a session)."""
    complaints = effective_document(org.author, org)
    kf = effective_document(org.author, org, process=None, title="大堂服务规范", body="# 大堂服务规范\n\n迎候客户。\n")
    yy = effective_document(org.other, org, process=None, dept="YY", title="柜面业务办理规范", body=BODY_YY)
    other = effective_document(org.author, org, title="投诉回访规范", body="# 投诉回访规范\n\n回访。\n")
    db.session.commit()
    return complaints, kf, yy, other


@pytest.fixture
def trainer(make_user, org):
    return make_user("trainer_t", department=org.depts["ZL"], display_name="培训讲师")


def _fields(org, trainer, documents, attendees, *, dept="KF", starts=None, **kwargs):
    starts = starts or utcnow() - timedelta(hours=3)  # over an hour ago
    return sessions.SessionFields(topic="投诉处理培训", trainer_id=trainer.id, department_id=org.depts[dept].id
                                  if dept else None, starts_at=starts, ends_at=starts + timedelta(hours=2),
                                  place="三楼培训室", document_ids=[d.id for d in documents],
                                  attendee_ids=[u.id for u in attendees], **kwargs)


def _status(document, user):
    rows = assignments(document, user=user)
    assert len(rows) == 1, (document.code, user.username)
    return rows[0]


def test_bulk_sign_completes_exactly_the_linked_documents_open_assignments(org, docs, trainer):
    complaints, kf, yy, other = docs
    emp_kf, emp_yy, zh = org.employee, org.other, org.zh_member
    assert _status(complaints, emp_yy).status == OPEN and _status(kf, emp_kf).status == OPEN
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints, kf, yy],
                                                      [emp_kf, emp_yy, zh, org.author], dept=None))
    result = sessions.sign_attendees(trainer, session.id, [emp_kf.id, emp_yy.id, zh.id], DEFAULT_PASSWORD)
    db.session.commit()
    assert {a.user_id for a in result.signed} == {emp_kf.id, emp_yy.id, zh.id} and result.already == 0
    # the signed attendees' assignments for the linked documents: done, by the classroom, this session
    completed = [_status(kf, emp_kf), _status(complaints, emp_yy), _status(yy, emp_yy)]
    assert result.completed == 3
    for row in completed:
        assert (row.status, row.completed_by, row.session_id) == (DONE, BY_CLASSROOM, session.id)
        assert row.completed_at is not None and row.signature_id is not None
    # … and nothing else: a document not linked, an invitee not signed, people not invited
    assert _status(other, emp_yy).status == OPEN
    assert _status(kf, org.author).status == OPEN
    assert _status(complaints, org.heads["YY"]).status == OPEN and _status(yy, org.heads["YY"]).status == OPEN
    assert _status(kf, org.heads["KF"]).status == OPEN
    assert not assignments(complaints, user=zh) and not assignments(kf, user=zh)
    # one trainer_attest signature per attendee, each over its own fingerprint
    signatures = list(db.session.scalars(sa.select(Signature).where(Signature.meaning == "trainer_attest")))
    assert len(signatures) == 3 and {s.signer_id for s in signatures} == {trainer.id}
    assert {s.object_type for s in signatures} == {"training_session_attendee"}
    attendees = {a.user_id: a for a in reloaded(session).attendees}
    for uid in (emp_kf.id, emp_yy.id, zh.id):
        attendee = attendees[uid]
        assert attendee.attended_at is not None
        signature = db.session.get(Signature, attendee.signature_id)
        assert signature.object_id == str(attendee.id)
        assert signature.content_sha256 == sessions.attendee_fingerprint(reloaded(session), uid)
    assert attendees[org.author.id].attended_at is None
    assert len({s.content_sha256 for s in signatures}) == 3
    event = audit("training.session_sign")[-1]
    assert event.summary["count"] == 3 and event.summary["assignments_completed"] == 3


def test_a_wrong_password_signs_nobody_and_completes_nothing(org, docs, trainer, client_for):
    complaints, kf, _yy, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints, kf], [org.employee, org.other],
                                                      dept=None))
    db.session.commit()
    with pytest.raises(SignatureRejected):
        sessions.sign_attendees(trainer, session.id, [org.employee.id], "wrong-password")
    db.session.rollback()
    # over HTTP: refused on the password field, and the failed attempt is kept (counts towards the lockout)
    response = client_for(trainer).post(f"/training/sessions/{session.id}/sign",
                                        data={"attendees": [org.employee.id, org.other.id], "password": "nope"},
                                        headers=HX)
    assert response.status_code == 422
    assert field_has_error(text(response), "password")
    assert count(SessionAttendee, SessionAttendee.attended_at.is_not(None)) == 0
    assert count(Signature, Signature.meaning == "trainer_attest") == 0
    assert _status(kf, org.employee).status == OPEN and _status(complaints, org.other).status == OPEN
    assert audit("esign.failed"), "the failed attempt is committed"
    assert not audit("training.session_sign")


def test_signing_someone_twice_does_nothing_the_second_time(org, docs, trainer, client_for):
    _complaints, kf, _yy, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [kf], [org.employee, org.author]))
    db.session.commit()
    client = client_for(trainer)
    data = {"attendees": [org.employee.id], "password": DEFAULT_PASSWORD}
    first = client.post(f"/training/sessions/{session.id}/sign", data=data)
    assert first.status_code == 303 and first.headers["Location"].endswith(f"/training/sessions/{session.id}")
    signed_at = reloaded(session).attendees[0].attended_at
    second = client.post(f"/training/sessions/{session.id}/sign", data=data, headers=HX)
    assert second.status_code == 200
    assert count(Signature, Signature.meaning == "trainer_attest") == 1
    assert len(audit("training.session_sign")) == 1
    again = sessions.sign_attendees(trainer, session.id, [org.employee.id], "even a wrong one")
    assert again.signed == [] and again.already == 1 and again.completed == 0
    assert reloaded(session).attendees[0].attended_at == signed_at
    # signing the rest later signs only them
    later = sessions.sign_attendees(trainer, session.id, [org.employee.id, org.author.id], DEFAULT_PASSWORD)
    assert [a.user_id for a in later.signed] == [org.author.id] and later.already == 1
    assert count(Signature, Signature.meaning == "trainer_attest") == 2


def test_only_the_trainer_signs(org, docs, trainer, client_for):
    _complaints, kf, _yy, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [kf], [org.employee]))
    db.session.commit()
    for user in (org.qm, org.heads["KF"], org.employee):
        response = client_for(user).post(f"/training/sessions/{session.id}/sign",
                                         data={"attendees": [org.employee.id], "password": DEFAULT_PASSWORD})
        assert response.status_code == 403, user.username
        with pytest.raises(PermissionDenied):
            sessions.sign_attendees(user, session.id, [org.employee.id], DEFAULT_PASSWORD)
    # a stranger does not even learn that the session exists
    assert client_for(org.heads["YY"]).post(f"/training/sessions/{session.id}/sign",
                                            data={"attendees": [org.employee.id],
                                                  "password": DEFAULT_PASSWORD}).status_code == 404
    assert count(Signature, Signature.meaning == "trainer_attest") == 0
    assert _status(kf, org.employee).status == OPEN


def test_signing_refuses_people_not_invited_and_sessions_not_started(org, docs, trainer):
    complaints, _kf, _yy, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.employee]))
    with pytest.raises(ServiceError):
        sessions.sign_attendees(trainer, session.id, [org.author.id], DEFAULT_PASSWORD)
    later = sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.employee],
                                                    starts=utcnow() + timedelta(days=2)))
    with pytest.raises(ServiceError):
        sessions.sign_attendees(trainer, later.id, [org.employee.id], DEFAULT_PASSWORD)
    assert count(Signature, Signature.meaning == "trainer_attest") == 0


def test_department_heads_organise_for_their_own_department_only(org, docs, trainer, client_for):
    complaints, kf, counter, _other = docs
    head_yy, head_kf = org.heads["YY"], org.heads["KF"]
    # for another department, or inviting another department's people: refused
    with pytest.raises(ServiceError) as refused:
        sessions.create_session(head_yy, _fields(org, trainer, [complaints], [org.employee], dept="KF"))
    assert {f for f, _m in refused.value.errors} == {"department_id", "attendee_ids"}
    with pytest.raises(ServiceError) as refused:
        sessions.create_session(head_yy, _fields(org, trainer, [counter], [org.other, org.employee], dept="YY"))
    assert [f for f, _m in refused.value.errors] == ["attendee_ids"]
    with pytest.raises(ServiceError):
        sessions.create_session(head_yy, _fields(org, trainer, [counter], [org.other], dept=None))
    # an employee organises nothing
    with pytest.raises(PermissionDenied):
        sessions.create_session(org.employee, _fields(org, trainer, [complaints], [org.author]))
    assert client_for(org.employee).get("/training/sessions/new").status_code == 403
    # their own department: fine
    mine = sessions.create_session(head_yy, _fields(org, trainer, [counter], [org.other], dept="YY"))
    kf_session = sessions.create_session(head_kf, _fields(org, trainer, [kf], [org.employee], dept="KF"))
    db.session.commit()
    # the head of YY neither sees nor edits KF's session, and its people are not offered to them
    client = client_for(head_yy)
    assert client.get(f"/training/sessions/{kf_session.id}").status_code == 404
    assert client.get(f"/training/sessions/{kf_session.id}/edit").status_code == 404
    assert client.get(f"/training/sessions/{kf_session.id}/attendance.pdf").status_code == 404
    with pytest.raises(NotFound):
        sessions.get_session(head_yy, kf_session.id)
    listing = text(client.get("/training/sessions"))
    assert f"/training/sessions/{mine.id}" in listing and f"/training/sessions/{kf_session.id}\"" not in listing
    form = text(client.get("/training/sessions/new"))
    invitable = re.search(r'<select[^>]*name="attendee_ids".*?</select>', form, re.S).group(0)
    assert org.other.display_name in invitable and org.employee.display_name not in invitable
    assert org.depts["KF"].name not in re.search(r'<select[^>]*name="department_id".*?</select>', form, re.S).group(0)
    # over HTTP, a forged post for KF is refused on the form
    response = client.post("/training/sessions/new", headers=HX, data={
        "topic": "越权", "trainer_id": trainer.id, "department_id": org.depts["KF"].id,
        "starts_at": "2026-12-01T09:00", "ends_at": "2026-12-01T10:00", "document_ids": [complaints.id],
        "attendee_ids": [org.employee.id], "request_key": "forged-1"})
    assert response.status_code == 422 and field_has_error(text(response), "department_id")
    assert count(TrainingSession, TrainingSession.topic == "越权") == 0
    # the KF head, the trainer and the invitee see it; managers see everything
    for user in (head_kf, trainer, org.employee, org.qm):
        assert client_for(user).get(f"/training/sessions/{kf_session.id}").status_code == 200, user.username
    assert client_for(org.employee).get(f"/training/sessions/{kf_session.id}/attendance.pdf").status_code == 403
    assert client_for(org.employee).get(f"/training/sessions/{kf_session.id}/edit").status_code == 403


def test_the_create_form_posted_twice_makes_one_session(org, docs, trainer, client_for):
    complaints, _kf, _yy, _other = docs
    client = client_for(org.qm)
    page = text(client.get("/training/sessions/new"))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {"topic": "投诉处理规范宣贯", "trainer_id": trainer.id, "department_id": org.depts["KF"].id,
            "starts_at": "2026-12-01T14:00", "ends_at": "2026-12-01T16:00", "place": "三楼培训室",
            "document_ids": [complaints.id], "attendee_ids": [org.employee.id, org.author.id], "request_key": key}
    first = client.post("/training/sessions/new", data=data)
    second = client.post("/training/sessions/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(TrainingSession) == 1 and len(audit("training.session_create")) == 1
    session = db.session.scalar(sa.select(TrainingSession))
    # entered in Beijing time, stored in UTC
    assert session.starts_at.astimezone(timezone.utc) == sh(2026, 12, 1, 14).astimezone(timezone.utc)
    assert {a.user_id for a in session.attendees} == {org.employee.id, org.author.id}
    assert [d.id for d in session.documents] == [complaints.id]


def test_inviting_everyone_with_open_training_in_a_department(org, docs, trainer):
    complaints, _kf, counter, _other = docs
    sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.employee]))
    yy_open = set(sessions.open_assignee_ids([complaints.id, counter.id], org.depts["YY"].id))
    assert org.other.id in yy_open and org.heads["YY"].id in yy_open
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints, counter], [org.employee],
                                                      fill_department_id=org.depts["YY"].id))
    assert {a.user_id for a in session.attendees} == {org.employee.id} | yy_open
    # a head fills from their own department only
    with pytest.raises(ServiceError):
        sessions.create_session(org.heads["YY"], _fields(org, trainer, [counter], [], dept="YY",
                                                         fill_department_id=org.depts["KF"].id))
    # no documents: nothing to fill from
    with pytest.raises(ServiceError):
        sessions.create_session(org.qm, _fields(org, trainer, [], [], fill_department_id=org.depts["YY"].id))


def test_editing_keeps_what_the_signatures_cover(org, docs, trainer, client_for):
    _complaints, kf, counter, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [kf], [org.employee, org.author]))
    sessions.sign_attendees(trainer, session.id, [org.employee.id], DEFAULT_PASSWORD)
    fields = sessions.fields_of(reloaded(session))
    fields.document_ids = [kf.id, counter.id]
    with pytest.raises(ServiceError):
        sessions.update_session(org.qm, session.id, fields)
    fields = sessions.fields_of(reloaded(session))
    fields.attendee_ids = [org.author.id]
    with pytest.raises(ServiceError):
        sessions.update_session(org.qm, session.id, fields)
    fields = sessions.fields_of(reloaded(session))
    fields.attendee_ids = [org.employee.id, org.other.id]
    fields.place = "二楼会议室"
    sessions.update_session(org.qm, session.id, fields)
    db.session.commit()
    assert {a.user_id for a in reloaded(session).attendees} == {org.employee.id, org.other.id}
    event = audit("training.session_update")[-1]
    assert event.summary["after"]["place"] == "二楼会议室"
    # the edit form shows the stored times in Beijing time
    page = text(client_for(org.qm).get(f"/training/sessions/{session.id}/edit"))
    assert local_input(reloaded(session).starts_at) in page
    with pytest.raises(PermissionDenied):
        sessions.update_session(trainer, session.id, fields)


def test_the_attendance_sheet_is_a_pdf_with_the_invitees(org, docs, trainer, client_for):
    from pypdf import PdfReader

    complaints, _kf, counter, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints, counter],
                                                      [org.employee, org.other, org.author], dept=None))
    db.session.commit()
    response = client_for(trainer).get(f"/training/sessions/{session.id}/attendance.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    disposition = unquote(response.headers["Content-Disposition"])
    assert "签到表-投诉处理培训-" in disposition and 'filename="attendance-' in disposition
    content = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    flat = re.sub(r"\s+", "", content)
    for name in (org.employee.display_name, org.other.display_name, org.author.display_name, "培训讲师",
                 complaints.code, "投诉处理培训", org.depts["YY"].name):
        assert name in flat, name


@pytest.mark.parametrize("hx", [False, True])
def test_the_pages_plain_and_htmx(org, docs, trainer, client_for, hx):
    complaints, _kf, _yy, _other = docs
    past = sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.employee]))
    upcoming = sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.author],
                                                       starts=utcnow() + timedelta(days=3)))
    db.session.commit()
    headers = HX if hx else {}
    client = client_for(org.qm)
    body = assert_page(client.get("/training/sessions", headers=headers), hx)
    assert f"/training/sessions/{past.id}" in body and f"/training/sessions/{upcoming.id}" in body
    body = assert_page(client.get("/training/sessions?when=upcoming", headers=headers), hx)
    assert f"/training/sessions/{upcoming.id}\"" in body and f"/training/sessions/{past.id}\"" not in body
    body = assert_page(client.get("/training/sessions?when=past", headers=headers), hx)
    assert f"/training/sessions/{past.id}\"" in body and f"/training/sessions/{upcoming.id}\"" not in body
    body = assert_page(client.get(f"/training/sessions?department={org.depts['YY'].id}", headers=headers), hx)
    assert f"/training/sessions/{past.id}\"" not in body
    for path in ("/training/sessions/new", f"/training/sessions/{past.id}/edit"):
        assert_page(client.get(path, headers=headers), hx)
    # the session page: the trainer gets the sign-in form once the session has started
    page = client_for(trainer).get(f"/training/sessions/{past.id}").get_data(as_text=True)
    assert 'id="sign-in-form"' in page and org.employee.display_name in page
    page = client_for(trainer).get(f"/training/sessions/{upcoming.id}").get_data(as_text=True)
    assert 'id="sign-in-form"' not in page and 'id="not-started"' in page
    page = client_for(org.employee).get(f"/training/sessions/{past.id}").get_data(as_text=True)
    assert 'id="sign-in-form"' not in page and 'id="attendance-pdf"' not in page
    # the employee lists the sessions they are invited to, and no others
    listing = client_for(org.employee).get("/training/sessions").get_data(as_text=True)
    assert f"/training/sessions/{past.id}\"" in listing and f"/training/sessions/{upcoming.id}\"" not in listing


def test_signing_over_http_swaps_the_attendance_part(org, docs, trainer, client_for):
    _complaints, kf, _yy, _other = docs
    session = sessions.create_session(org.qm, _fields(org, trainer, [kf], [org.employee, org.author]))
    db.session.commit()
    response = client_for(trainer).post(f"/training/sessions/{session.id}/sign", headers=HX,
                                        data={"attendees": [org.employee.id], "password": DEFAULT_PASSWORD})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="attendance">')
    assert 'id="flashes"' in body  # the message box, out of band
    assert _status(kf, org.employee).status == DONE
    assert _status(kf, org.author).status == OPEN


@pytest.mark.parametrize("value, expected", [
    ("2026-12-03T09:30", (2026, 12, 3, 1, 30)),
    ("2026-12-03 00:15", (2026, 12, 2, 16, 15)),
    ("２０２６-１２-０３T09:30", (2026, 12, 3, 1, 30)),
    ("2026-12-03T09:30:59", (2026, 12, 3, 1, 30)),
    ("2026-12-03", None), ("2026-12-03T24:00", None), ("2026-13-03T09:00", None), ("0001-01-01T00:00", None),
    ("", None), ("2026-12-03T9:00", None), ("x" * 40, None),
])
def test_parse_local_datetime(app, value, expected):
    parsed = parse_local_datetime(value)
    if expected is None:
        assert parsed is None
    else:
        assert parsed.astimezone(timezone.utc).timetuple()[:5] == expected


def test_every_session_action_has_words_in_the_audit_trail(org, docs, trainer, app):
    from portal.audit.registry import action_label, object_types

    complaints = docs[0]
    session = sessions.create_session(org.qm, _fields(org, trainer, [complaints], [org.employee]))
    with app.test_request_context():
        for code in ("training.session_create", "training.session_update", "training.session_sign"):
            assert action_label(code) != code
        resolved = object_types.get("training_session").resolve([session.id])
        assert resolved[session.id][1] == f"/training/sessions/{session.id}"


def test_the_demo_sessions_are_made_once(app):
    from portal.core.registry import demo_seeders

    for seeder in demo_seeders:
        if seeder.key != "notifications":
            seeder.fn()
    db.session.commit()
    made = list(db.session.scalars(sa.select(TrainingSession).order_by(TrainingSession.starts_at)))
    assert len(made) == 4
    past, upcoming = made[:3], made[3]
    assert all(any(a.attended_at for a in s.attendees) for s in past)
    assert not any(a.attended_at for a in upcoming.attendees) and upcoming.starts_at > utcnow()
    completed = count(SessionAttendee, SessionAttendee.attended_at.is_not(None))
    signatures = count(Signature, Signature.meaning == "trainer_attest")
    assert signatures == completed
    done_here = [a for s in past for a in assignments(None, status=DONE) if a.session_id == s.id]
    assert done_here, "signing the demo's attendees in completed some of their assignments"
    assert [s.fn() for s in demo_seeders if s.key == "training_sessions"] == [0]
    assert count(TrainingSession) == 4 and count(Signature, Signature.meaning == "trainer_attest") == signatures


def test_the_list_pages(org, docs, trainer, client_for, monkeypatch):
    monkeypatch.setattr(sessions, "PER_PAGE", 1)
    older = sessions.create_session(org.qm, _fields(org, trainer, [docs[0]], [org.employee],
                                                    starts=utcnow() - timedelta(days=2)))
    newer = sessions.create_session(org.qm, _fields(org, trainer, [docs[0]], [org.employee]))
    db.session.commit()
    client = client_for(org.qm)
    first = client.get("/training/sessions").get_data(as_text=True)
    assert f"/training/sessions/{newer.id}\"" in first and f"/training/sessions/{older.id}\"" not in first
    assert "page=2" in first
    second = client.get("/training/sessions?page=2").get_data(as_text=True)
    assert f"/training/sessions/{older.id}\"" in second and f"/training/sessions/{newer.id}\"" not in second
    beyond = client.get("/training/sessions?page=99")
    assert beyond.status_code == 200 and 'id="no-sessions"' in beyond.get_data(as_text=True)
