"""Forms of the training pages (sign-off, quiz, waiver, requirement rules, quiz editor, type settings). The
services check everything again."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import optional_id
from portal.training.models import ADD_POSITION, ADD_USER, EXCLUDE_POSITION
from portal.training.services import REASON_MAX


class SignOffForm(PortalForm):
    """已阅读并理解: the box, and the password again when the document type asks for it."""

    understood = BooleanField(_l("I have read and understood this document and will work by it."))
    password = PasswordField(_l("Your password"), validators=[Optional()])


class WaiveForm(PortalForm):
    reason = TextAreaField(_l("Reason for the waiver"), validators=[DataRequired(), Length(max=REASON_MAX)])


class QuizForm(PortalForm):
    """The questions are added by the view as radio fields named ``q<id>``; the one-time key stops a double
    click from counting twice."""

    request_key = HiddenField()


RULE_LABELS = {
    ADD_POSITION: _l("Also train a position"),
    EXCLUDE_POSITION: _l("Exclude a position"),
    ADD_USER: _l("Also train a person"),
}


class RuleForm(PortalForm):
    kind = SelectField(_l("Rule"), choices=lambda: list(RULE_LABELS.items()))
    position_id = SelectField(_l("Position"), coerce=optional_id, validate_choice=False)
    user_id = SelectField(_l("Person"), coerce=optional_id, validate_choice=False)


class QuizEditForm(PortalForm):
    pass_mark = IntegerField(_l("Pass mark (%)"), default=80, validators=[DataRequired(), NumberRange(min=1, max=100)])
    questions = TextAreaField(
        _l("Questions"), validators=[Optional(), Length(max=60_000)],
        description=_l("One question per paragraph: the question on the first line, then one choice per line, "
                       "starting with - for a wrong choice and * for the right one. Leave empty to remove the quiz."))


class TypeSettingForm(PortalForm):
    enabled = BooleanField(_l("Train on documents of this type"))
    due_days = IntegerField(_l("Days to complete"), validators=[DataRequired(), NumberRange(min=1, max=365)])
    require_password = BooleanField(_l("Confirm with the password (electronic signature)"))
