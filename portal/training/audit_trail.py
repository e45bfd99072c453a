"""How training events read in the audit trail (called from hooks.setup()). The sessions' and the
qualifications' own words are registered by their modules."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels, register_object_type
from portal.extensions import db
from portal.org.models import User
from portal.sop.models import Document
from portal.training.models import STATUS_LABELS, QuizAttempt, TrainingAssignment, TrainingRule


def _assignments(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(TrainingAssignment.id, Document.code, User.display_name)
        .join(Document, Document.id == TrainingAssignment.document_id)
        .join(User, User.id == TrainingAssignment.user_id).where(TrainingAssignment.id.in_(ids)))
    return {r.id: (f"{r.code} · {r.display_name}", url_for("training.assignment", assignment_id=r.id)) for r in rows}


def _rules(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(TrainingRule.id, Document.id.label("document_id"), Document.code)
                              .join(Document, Document.id == TrainingRule.document_id).where(TrainingRule.id.in_(ids)))
    return {r.id: (r.code, url_for("sop.detail", document_id=r.document_id) + "#training") for r in rows}


def _attempts(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(QuizAttempt.id, QuizAttempt.assignment_id, QuizAttempt.score)
                              .where(QuizAttempt.id.in_(ids)))
    return {r.id: (f"{r.score}%", url_for("training.assignment", assignment_id=r.assignment_id)) for r in rows}


def register() -> None:
    register_action_labels({
        "training.assign": lazy_pgettext("audit action", "Assigned training on a document version"),
        "training.no_retraining": lazy_pgettext("audit action", "A document version took effect without retraining"),
        "training.not_applicable": lazy_pgettext("audit action", "Closed trainings that no longer apply"),
        "training.open": lazy_pgettext("audit action", "Opened a document to train on it"),
        "training.quiz_attempt": lazy_pgettext("audit action", "Answered a training quiz"),
        "training.quiz_save": lazy_pgettext("audit action", "Saved a training quiz"),
        "training.quiz_remove": lazy_pgettext("audit action", "Removed a training quiz"),
        "training.signoff": lazy_pgettext("audit action", "Signed a training as read and understood"),
        "training.waive": lazy_pgettext("audit action", "Waived a training"),
        "training.rule_add": lazy_pgettext("audit action", "Added a training requirement rule"),
        "training.rule_remove": lazy_pgettext("audit action", "Removed a training requirement rule"),
        "training.type_setting": lazy_pgettext("audit action", "Changed the training settings of a document type"),
    })
    fields = {
        "status": _l("Status"), "count": lazy_pgettext("audit field", "How many"),
        "reason": lazy_pgettext("audit field", "Reason"), "version": lazy_pgettext("audit field", "Version"),
        "source": lazy_pgettext("audit field", "Why"), "due_on": lazy_pgettext("audit field", "Due by"),
        "score": lazy_pgettext("audit field", "Score"), "passed": lazy_pgettext("audit field", "Passed"),
        "pass_mark": lazy_pgettext("audit field", "Pass mark"),
        "first_opened_at": lazy_pgettext("audit field", "First opened"),
        "questions": lazy_pgettext("audit field", "Questions"),
        "user_id": lazy_pgettext("audit field", "Employee"),
    }
    register_object_type("training_assignment", _l("Training assignment"), resolve=_assignments, fields=fields,
                         values={"status": STATUS_LABELS, "user_id": "user"})
    register_object_type("training_rule", _l("Training requirement rule"), resolve=_rules, fields={
        "kind": lazy_pgettext("audit field", "Rule"), "position_id": lazy_pgettext("audit field", "Position"),
        "user_id": lazy_pgettext("audit field", "Employee"), "document_id": _l("Controlled document"),
    }, values={"user_id": "user", "document_id": "sop_document"})
    # The quiz's events are recorded on its document version (sop's object type): its fields are named here.
    register_field_labels({"questions": lazy_pgettext("audit field", "Questions"),
                           "pass_mark": lazy_pgettext("audit field", "Pass mark")})
    register_object_type("training_quiz_attempt", _l("Training quiz attempt"), resolve=_attempts, fields=fields)
    register_object_type("training_type_setting", _l("Training settings of a document type"), fields={
        "enabled": lazy_pgettext("audit field", "Trained"), "due_days": lazy_pgettext("audit field", "Days to complete"),
        "require_password": lazy_pgettext("audit field", "Password at sign-off"),
    })
