"""Forms of document control. Choices are filled by the views from the services; the services check
everything again."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal.core.forms import PortalForm
from portal.core.parsing import optional_id, parse_date, parse_id_strict
from portal.org.forms import MultiCheckboxField
from portal.sop.models import CONFIDENTIALITY_LABELS, TYPE_LABELS
from portal.sop.services import BODY_MAX, COMMENT_MAX, SUMMARY_MAX, TAGS_MAX, TITLE_MAX


def _date_or_none(form, field) -> None:
    """A yyyy-mm-dd date (empty: the caller's default); the parsed value is left in ``field.parsed``."""
    field.parsed = None
    if field.data:
        field.parsed = parse_date(field.data)
        if field.parsed is None:
            raise ValidationError(_l("Enter a date as yyyy-mm-dd."))


class DocumentForm(PortalForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    doc_type = SelectField(_l("Type"), choices=lambda: list(TYPE_LABELS.items()))
    department_id = SelectField(_l("Owning department"), coerce=optional_id, validate_choice=False)
    process_id = SelectField(_l("Process"), coerce=optional_id, validate_choice=False,
                             description=_l("From the responsibility matrix: its A department approves, its C "
                                            "departments review."))
    confidentiality = SelectField(_l("Confidentiality"), choices=lambda: list(CONFIDENTIALITY_LABELS.items()),
                                  default="internal")
    review_period_months = IntegerField(_l("Review period (months)"), default=12,
                                        validators=[DataRequired(), NumberRange(min=1, max=120)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=TAGS_MAX)],
                       description=_l("Separated by commas, e.g. 投诉, 退款"))
    issuer = StringField(_l("Issuer (external documents)"), validators=[Optional(), Length(max=200)])
    edition = StringField(_l("Edition (external documents)"), validators=[Optional(), Length(max=100)])
    code = StringField(_l("Code"), validators=[Optional(), Length(max=40)],
                       description=_l("Leave empty to number it by type and department, e.g. SOP-KF-001."))
    request_key = HiddenField()


class VersionForm(PortalForm):
    change_summary = TextAreaField(_l("Change summary"), validators=[Optional(), Length(max=SUMMARY_MAX)],
                                   description=_l("What changed and why. Every version needs one."))
    body = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=BODY_MAX)],
                         description=_l("Headings with #, lists with -, tables with |. Or attach a Word file."))
    file = FileField(_l("Attached file (PDF, Word .docx or Excel .xlsx)"))
    remove_file = BooleanField(_l("Remove the attached file"))


class NewVersionForm(PortalForm):
    change = SelectField(_l("Kind of change"), choices=lambda: [
        ("minor", _l("Minor revision (x.y+1)")), ("major", _l("Major revision (x+1.0)"))])


class ReviewerForm(PortalForm):
    user_id = SelectField(_l("Add a reviewer"), coerce=optional_id, validate_choice=False)


class SignForm(PortalForm):
    """An electronic signature: the password again, an optional comment, and the fingerprint on screen."""

    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=COMMENT_MAX)])
    content_sha256 = HiddenField()


class ReturnForm(PortalForm):
    comment = TextAreaField(_l("Comments for the author"), validators=[DataRequired(), Length(max=COMMENT_MAX)])


class _ApprovalFields:
    effective_on = StringField(_l("Effective date"), validators=[Optional(), Length(max=10), _date_or_none],
                               description=_l("Today takes effect at once; a later date at 00:00 that day."))
    retraining = SelectField(_l("Retraining"), choices=lambda: [
        ("required", _l("Requires retraining")), ("none", _l("No retraining needed"))], default="required")
    retraining_reason = StringField(_l("Why no retraining is needed"), validators=[Optional(), Length(max=500)])


class ApproveForm(_ApprovalFields, SignForm):
    pass


class BulkApproveForm(_ApprovalFields, PortalForm):
    versions = MultiCheckboxField(_l("Versions"), coerce=parse_id_strict, validate_choice=False)
    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=COMMENT_MAX)])


class ObsoleteForm(PortalForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=COMMENT_MAX)])


class ExternalEditionForm(PortalForm):
    effective_on = StringField(_l("Effective date"), validators=[Optional(), Length(max=10), _date_or_none])


class CopyForm(PortalForm):
    holder_user_id = SelectField(_l("Holder (a person)"), coerce=optional_id, validate_choice=False)
    holder_place = StringField(_l("Or a place (service point, window)"), validators=[Optional(), Length(max=200)])
    request_key = HiddenField()


class CopyReturnForm(PortalForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])
