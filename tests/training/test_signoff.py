"""已阅读并理解: opening the document, the password, the quiz, double and concurrent submits, someone else's
assignment, waivers — through the pages, as people use them."""
from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from portal.esign.models import Signature
from portal.extensions import db
from portal.training import services
from portal.training.models import DONE, OPEN, WAIVED, QuizAttempt, TrainingAssignment
from tests.documents import effective_document
from tests.helpers import DEFAULT_PASSWORD, audit, client_for, count, text
from tests.training.helpers import assignments

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
QUIZ = "投诉首次响应时限？\n- 三个工作日\n* 一个工作日\n\n退款需要谁审批？\n* 部门负责人\n- 柜员本人"


@pytest.fixture
def trained(org):
    document = effective_document(org.author, org)  # T-03: R 运营部 (org.other)
    return document, assignments(document, user=org.other)[0]


def _signatures(assignment) -> int:
    return count(Signature, Signature.object_type == "training_assignment", Signature.object_id == str(assignment.id))


def test_the_employee_opens_reads_and_signs_with_the_password(app, org, trained):
    document, assignment = trained
    client = client_for(app, org.other)
    page = text(client.get(f"/training/a/{assignment.id}"))
    assert "阅读" in page and "sign-training" not in page  # the sign-off shows once the document was opened
    client.post(f"/training/a/{assignment.id}/read")
    db.session.expire_all()
    assert db.session.get(TrainingAssignment, assignment.id).first_opened_at is not None
    page = text(client.get(f"/training/a/{assignment.id}"))
    assert "客户投诉处理规范" in page and "sign-training" in page

    response = client.post(f"/training/a/{assignment.id}/sign", data={"understood": "y", "password": DEFAULT_PASSWORD})
    assert response.status_code == 303
    db.session.expire_all()
    done = db.session.get(TrainingAssignment, assignment.id)
    assert done.status == DONE and done.signature_id is not None and done.completed_by == "signoff"
    signature = db.session.get(Signature, done.signature_id)
    assert signature.meaning == "read_understood" and signature.content_sha256 == document.current_version.content_sha256
    assert audit("training.signoff", done)


def test_a_wrong_password_signs_nothing(app, org, trained):
    _document, assignment = trained
    client = client_for(app, org.other)
    client.post(f"/training/a/{assignment.id}/read")
    response = client.post(f"/training/a/{assignment.id}/sign", data={"understood": "y", "password": "wrong"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(TrainingAssignment, assignment.id).status == OPEN
    assert _signatures(assignment) == 0
    assert audit("esign.failed")  # counted towards the lockout


def test_a_double_submit_gives_one_record(app, org, trained):
    _document, assignment = trained
    client = client_for(app, org.other)
    client.post(f"/training/a/{assignment.id}/read")
    for _ in range(2):
        assert client.post(f"/training/a/{assignment.id}/sign",
                           data={"understood": "y", "password": DEFAULT_PASSWORD}).status_code == 303
    assert _signatures(assignment) == 1
    assert len(audit("training.signoff")) == 1


def test_nobody_signs_for_someone_else(app, org, trained):
    _document, assignment = trained
    services.mark_opened(org.other, assignment.id)
    db.session.commit()
    head = client_for(app, org.heads["YY"])  # may see it, may not sign it
    assert head.get(f"/training/a/{assignment.id}").status_code == 200
    assert head.post(f"/training/a/{assignment.id}/sign",
                     data={"understood": "y", "password": DEFAULT_PASSWORD}).status_code == 403
    stranger = client_for(app, org.zh_member)
    assert stranger.get(f"/training/a/{assignment.id}").status_code == 404
    assert stranger.post(f"/training/a/{assignment.id}/sign",
                         data={"understood": "y", "password": DEFAULT_PASSWORD}).status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(TrainingAssignment, assignment.id).status == OPEN and _signatures(assignment) == 0


def test_a_failed_quiz_does_not_complete_the_assignment(app, org, trained):
    document, assignment = trained
    services.save_quiz(org.qm, document.current_version_id, text=QUIZ, pass_mark=100)
    db.session.commit()
    client = client_for(app, org.other)
    client.post(f"/training/a/{assignment.id}/read")
    quiz = services.quiz_of(document.current_version_id)
    first, second = quiz.questions
    # Signing before passing is refused.
    response = client.post(f"/training/a/{assignment.id}/sign", data={"understood": "y", "password": DEFAULT_PASSWORD})
    assert response.status_code == 422 and "测验" in text(response)
    # A wrong answer: recorded, not passed, still open.
    client.post(f"/training/a/{assignment.id}/quiz", data={f"q{first.id}": "0", f"q{second.id}": "0",
                                                           "request_key": "k1"})
    attempts = list(db.session.scalars(sa.select(QuizAttempt).where(QuizAttempt.assignment_id == assignment.id)))
    assert [(a.score, a.passed) for a in attempts] == [(50, False)]
    db.session.expire_all()
    assert db.session.get(TrainingAssignment, assignment.id).status == OPEN
    # Right answers, sent twice (a double click): one attempt more; then the sign-off goes through.
    for _ in range(2):
        client.post(f"/training/a/{assignment.id}/quiz", data={f"q{first.id}": "1", f"q{second.id}": "0",
                                                               "request_key": "k2"})
    assert count(QuizAttempt, QuizAttempt.assignment_id == assignment.id) == 2
    client.post(f"/training/a/{assignment.id}/sign", data={"understood": "y", "password": DEFAULT_PASSWORD})
    db.session.expire_all()
    assert db.session.get(TrainingAssignment, assignment.id).status == DONE
    # Answered: the quiz can no longer change.
    with pytest.raises(services.ServiceError):
        services.save_quiz(org.qm, document.current_version_id, text=QUIZ, pass_mark=50)


def test_the_quiz_editor_explains_bad_input_in_chinese(app, org, trained):
    document, _assignment = trained
    client = client_for(app, org.qm)
    response = client.post(f"/training/versions/{document.current_version_id}/quiz",
                           data={"pass_mark": "80", "questions": "没有选项的问题\n- 只有一个"})
    assert response.status_code == 422 and "2 到 6 个选项" in text(response)
    assert client_for(app, org.other).get(f"/training/versions/{document.current_version_id}/quiz").status_code == 403


def test_the_department_head_waives_with_a_reason(app, org, trained):
    _document, assignment = trained
    head = client_for(app, org.heads["YY"])
    assert head.post(f"/training/a/{assignment.id}/waive", data={"reason": ""}).status_code == 422
    assert client_for(app, org.heads["KF"]).post(f"/training/a/{assignment.id}/waive",
                                                 data={"reason": "长期病假"}).status_code == 404
    assert head.post(f"/training/a/{assignment.id}/waive", data={"reason": "长期病假"}).status_code == 303
    db.session.expire_all()
    waived = db.session.get(TrainingAssignment, assignment.id)
    assert waived.status == WAIVED and waived.closed_reason == "长期病假" and waived.closed_by_id == org.heads["YY"].id
    assert audit("training.waive", waived)[0].summary["reason"] == "长期病假"


def test_requirement_rules_on_the_document_page(app, org, trained):
    document, _assignment = trained
    client = client_for(app, org.qm)
    page = text(client.get(f"/quality/documents/{document.id}"))
    assert "培训要求" in page and "运营部" in page
    response = client.post(f"/training/documents/{document.id}/rules",
                           data={"kind": "add_user", "user_id": str(org.zh_member.id), "position_id": "0"})
    assert response.status_code == 303
    assert assignments(document, user=org.zh_member)[0].status == OPEN
    # An employee sees no rules panel and cannot post one.
    assert "add-training-rule" not in text(client_for(app, org.other).get(f"/quality/documents/{document.id}"))
    assert client_for(app, org.other).post(f"/training/documents/{document.id}/rules",
                                           data={"kind": "add_user", "user_id": str(org.qm.id)}).status_code == 403


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers: two sign-offs never run at the same moment "
                                            "there (run with TEST_DATABASE_URL=postgresql…)")
def test_a_concurrent_double_sign_off_gives_one_record(app, org, trained):
    """Two requests of the same person at the same moment (two tabs), on two connections: one signature, one
    completion; the second waits on the row the first claimed and then finds it signed."""
    _document, assignment = trained
    services.mark_opened(org.other, assignment.id)
    user_id, assignment_id = org.other.id, assignment.id  # read here: the threads never touch this session
    db.session.commit()
    db.session.remove()
    barrier = threading.Barrier(2)
    results = []

    def run():
        with app.app_context():
            from portal.org.models import User

            try:
                user = db.session.get(User, user_id)
                barrier.wait(timeout=30)
                results.append(services.sign_off(user, assignment_id, password=DEFAULT_PASSWORD, understood=True).signed)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a sign-off never finished"
    assert sorted(map(str, results)) == ["False", "True"], results
    db.session.expire_all()
    assert count(Signature, Signature.object_type == "training_assignment", Signature.object_id == str(assignment_id)) == 1
    assert db.session.get(TrainingAssignment, assignment_id).status == DONE
