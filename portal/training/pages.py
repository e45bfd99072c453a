"""What the training pages show, read through the services (the views stay free of queries)."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.core.errors import NotFound
from portal.org.services import active_users, position_choices
from portal.sop import services as sop_services
from portal.training import services
from portal.training.models import OPEN


def assignment_context(actor, assignment_id: int) -> dict:
    assignment = services.get_assignment(actor, assignment_id)
    own = assignment.user_id == actor.id
    quiz = services.quiz_of(assignment.version_id)
    if quiz is not None and not quiz.questions:
        quiz = None
    html = ""
    if assignment.first_opened_at is not None or not own:
        html, _text = sop_services.version_content(assignment.version)
    return dict(
        assignment=assignment, document=assignment.document, version=assignment.version, own=own, html=html,
        quiz=quiz, quiz_passed=services.passed_quiz(assignment) if quiz is not None else False,
        attempts=services.attempts_of(assignment), today=services.local_today(),
        setting=services.type_setting(assignment.document.doc_type),
        may_sign=own and assignment.status == OPEN,
        may_waive=(assignment.status == OPEN and services.may_oversee(actor, assignment.user.department_id)
                   and (not own or services.is_manager(actor))),
    )


def quiz_for_assignment(actor, assignment_id: int):
    assignment = services.get_assignment(actor, assignment_id)
    quiz = services.quiz_of(assignment.version_id)
    if quiz is None or not quiz.questions:
        raise NotFound()
    return quiz


def fill_rule_form(form, document_id: int) -> None:
    form.position_id.choices = [(0, _("— choose —"))] + position_choices()
    form.user_id.choices = [(0, _("— choose —"))] + [(u.id, f"{u.display_name}（{u.username}）")
                                                      for u in active_users()]


def document_panel(document, version, actor) -> dict | None:
    """培训要求 on a document's page: who must train, and (for those who may) the rules and the quiz link."""
    from portal.training.forms import RuleForm

    if document.is_external or not services.type_setting(document.doc_type).enabled:
        return None
    manage = services.may_manage_document(actor, document)
    if not manage and not services.may_oversee(actor, document.department_id):
        return None
    context = dict(requirements=services.requirements(document), manage=manage, version=version,
                   quiz=services.quiz_of(version.id) if version is not None else None)
    if manage:
        form = RuleForm()
        fill_rule_form(form, document.id)
        context["rule_form"] = form
    return context


def quiz_editor_context(actor, version_id: int) -> dict:
    quiz, version = services.quiz_editor(actor, version_id)
    return dict(version=version, document=version.document, quiz=quiz, text=services.quiz_text(quiz),
                pass_mark=quiz.pass_mark if quiz is not None else 80)

