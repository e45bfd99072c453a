"""My training (我的培训), one assignment (read, quiz, 已阅读并理解, waiver), the requirement rules and quiz of a
document, and the per-type settings. Thin: parse, call a service, render."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from wtforms import RadioField
from wtforms.validators import Optional

from portal.core.errors import NotFound, PermissionDenied
from portal.esign.services import MEANINGS
from portal.training import bp, pages, services
from portal.training.forms import QuizEditForm, QuizForm, RuleForm, SignOffForm, TypeSettingForm, WaiveForm
from portal.web.access import acting_user
from portal.web.htmx import redirect_to, render
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


@bp.route("/")
def index():
    """我的培训: my open assignments, then the closed ones."""
    actor = acting_user()
    return render("training/index.html", "training/_partials/_mine.html",
                  assignments=services.my_assignments(actor, include_closed=True), today=services.local_today())


def _quiz_form(quiz, data=None):
    """The quiz as a form: one radio group per question."""
    class Form(QuizForm):
        pass

    for question in quiz.questions:
        setattr(Form, f"q{question.id}", RadioField(question.text, choices=lambda options=question.options: list(enumerate(options)),
                                                     coerce=int, validators=[Optional()]))
    return Form(formdata=data) if data is not None else Form(request_key=services.new_request_key())


def _assignment_page(assignment_id: int, status: int = 200, **forms):
    actor = acting_user()
    context = pages.assignment_context(actor, assignment_id)
    if context["may_sign"]:
        context["sign_form"] = forms.get("sign_form") or SignOffForm()
        if context["quiz"] is not None and not context["quiz_passed"]:
            context["quiz_form"] = forms.get("quiz_form") or _quiz_form(context["quiz"])
    if context["may_waive"]:
        context["waive_form"] = forms.get("waive_form") or WaiveForm()
    context["meanings"] = MEANINGS
    return render("training/assignment.html", "training/_partials/_assignment.html", **context), status


@bp.route("/a/<int:assignment_id>")
def assignment(assignment_id: int):
    return _assignment_page(assignment_id)


@bp.route("/a/<int:assignment_id>/read", methods=["POST"])
def read(assignment_id: int):
    """Open the document: the first time is recorded, and the page shows its content."""
    actor = acting_user()
    perform(lambda: services.mark_opened(actor, assignment_id))
    return redirect_to(url_for("training.assignment", assignment_id=assignment_id) + "#document")


@bp.route("/a/<int:assignment_id>/quiz", methods=["POST"])
def quiz(assignment_id: int):
    actor = acting_user()
    quiz_ = pages.quiz_for_assignment(actor, assignment_id)
    form = _quiz_form(quiz_, request.form)
    answers = {q.id: getattr(form, f"q{q.id}").data for q in quiz_.questions}
    attempt = submit(form, lambda: services.submit_quiz(actor, assignment_id, answers,
                                                        request_key=form.request_key.data or ""))
    if attempt is FAILED:
        return _assignment_page(assignment_id, form_status(form), quiz_form=form)
    if attempt.passed:
        flash(_("Passed with %(score)d%%. You can now confirm that you have read and understood the document.",
                score=attempt.score), "success")
    else:
        flash(_("%(score)d%%: not passed. Read the document again and retry.", score=attempt.score), "warning")
    return redirect_to(url_for("training.assignment", assignment_id=assignment_id) + "#signoff")


@bp.route("/a/<int:assignment_id>/sign", methods=["POST"])
def sign(assignment_id: int):
    """已阅读并理解, with the password again when the document type asks for it."""
    actor = acting_user()
    form = SignOffForm()
    result = submit(form, lambda: services.sign_off(actor, assignment_id, password=form.password.data or "",
                                                    understood=bool(form.understood.data)))
    if result is FAILED:
        return _assignment_page(assignment_id, form_status(form), sign_form=form)
    flash(_("Signed: you have read and understood this document.") if result.signed
          else _("This training was already signed."), "success")
    return redirect_to(url_for("training.assignment", assignment_id=assignment_id))


@bp.route("/a/<int:assignment_id>/waive", methods=["POST"])
def waive(assignment_id: int):
    actor = acting_user()
    form = WaiveForm()
    if submit(form, lambda: services.waive(actor, assignment_id, form.reason.data or "")) is FAILED:
        return _assignment_page(assignment_id, form_status(form), waive_form=form)
    flash(_("The training was waived."), "success")
    return redirect_to(url_for("training.assignment", assignment_id=assignment_id))


# -- a document's requirements and quiz ------------------------------------------------------------
def _document_redirect(document_id: int):
    return redirect_to(f"/quality/documents/{document_id}#training")


@bp.route("/documents/<int:document_id>/rules", methods=["POST"])
def add_rule(document_id: int):
    actor = acting_user()
    form = RuleForm()
    pages.fill_rule_form(form, document_id)
    result = submit(form, lambda: services.add_rule(actor, document_id, form.kind.data,
                                                     position_id=form.position_id.data, user_id=form.user_id.data))
    if result is FAILED:
        for errors in [form.form_errors, *(f.errors for f in form)]:
            for message in errors:
                flash(message, "danger")
    else:
        flash(_("The rule was added; assignments were brought up to date."), "success")
    return _document_redirect(document_id)


@bp.route("/documents/<int:document_id>/rules/<int:rule_id>/remove", methods=["POST"])
def remove_rule(document_id: int, rule_id: int):
    actor = acting_user()
    flash_outcome(perform(lambda: services.remove_rule(actor, document_id, rule_id)),
                  _("The rule was removed; assignments were brought up to date."))
    return _document_redirect(document_id)


@bp.route("/versions/<int:version_id>/quiz", methods=["GET", "POST"])
def edit_quiz(version_id: int):
    actor = acting_user()
    context = pages.quiz_editor_context(actor, version_id)
    form = QuizEditForm()
    if request.method == "GET":
        form.questions.data, form.pass_mark.data = context["text"], context["pass_mark"]
    result = submit(form, lambda: services.save_quiz(actor, version_id, text=form.questions.data or "",
                                                      pass_mark=form.pass_mark.data))
    if result is not FAILED:
        flash(_("The quiz was saved.") if result is not None else _("The quiz was removed."), "success")
        return redirect_to(url_for("training.edit_quiz", version_id=version_id))
    return render("training/quiz_edit.html", "training/_partials/_quiz_edit.html", form=form, **context), \
        form_status(form)


# -- settings --------------------------------------------------------------------------------------
@bp.route("/settings")
def settings():
    actor = acting_user()
    if not services.is_manager(actor):
        raise PermissionDenied()
    return render("training/settings.html", "training/_partials/_settings.html",
                  rows=[(s, TypeSettingForm(prefix=s.doc_type, enabled=s.enabled, due_days=s.due_days,
                                            require_password=s.require_password)) for s in services.type_settings()])


@bp.route("/settings/<doc_type>", methods=["POST"])
def save_setting(doc_type: str):
    actor = acting_user()
    if not services.is_manager(actor):
        raise PermissionDenied()
    if doc_type not in services.DEFAULT_TYPE_SETTINGS:
        raise NotFound()
    form = TypeSettingForm(prefix=doc_type)
    result = submit(form, lambda: services.save_type_setting(actor, doc_type, enabled=bool(form.enabled.data),
                                                              due_days=form.due_days.data,
                                                              require_password=bool(form.require_password.data)))
    if result is FAILED:
        for f in form:
            for message in f.errors:
                flash(f"{f.label.text}: {message}", "danger")
    else:
        flash(_("Saved: %(type)s.", type=result.label), "success")
    return redirect_to(url_for("training.settings"))

