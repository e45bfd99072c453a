"""The CAPA pages' forms (CSRF through PortalForm); the rules are the services'."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.capa.models import CAUSE_LABELS
from portal.capa.services import TEXT_MAX, TITLE_MAX, WHYS_MAX
from portal.core.forms import PortalForm
from portal.core.parsing import optional_id


class PrefixedForm(PortalForm):
    """A form of the CAPA page: its fields carry a prefix, so that the page's forms have distinct ids."""

    form_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)


class CapaForm(PortalForm):
    request_key = HiddenField()
    source = HiddenField(validators=[Optional(), Length(max=12)])
    source_id = HiddenField(validators=[Optional(), Length(max=12)])
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the corrective action a title.")),
                                                 Length(max=TITLE_MAX)])
    department_id = SelectField(_l("Department"), coerce=optional_id, validate_choice=False)
    problem = TextAreaField(_l("Problem"), validators=[DataRequired(_l("Describe the problem.")),
                                                       Length(max=TEXT_MAX)])
    containment = TextAreaField(_l("Containment (what was done at once)"),
                                validators=[Optional(), Length(max=TEXT_MAX)])


def _cause_choices():
    return list(CAUSE_LABELS.items())


class RootCauseForm(PrefixedForm):
    form_prefix = "rc"
    why1 = StringField(_l("Why 1"), validators=[Optional(), Length(max=500)])
    why2 = StringField(_l("Why 2"), validators=[Optional(), Length(max=500)])
    why3 = StringField(_l("Why 3"), validators=[Optional(), Length(max=500)])
    why4 = StringField(_l("Why 4"), validators=[Optional(), Length(max=500)])
    why5 = StringField(_l("Why 5"), validators=[Optional(), Length(max=500)])
    cause_category = RadioField(_l("Root cause category (人机料法环测)"), choices=_cause_choices,
                                validators=[Optional()], validate_choice=False)

    @property
    def why_fields(self):
        return [self[f"why{i}"] for i in range(1, WHYS_MAX + 1)]

    def whys(self) -> list[str]:
        return [f.data or "" for f in self.why_fields]

    def fill(self, whys: list[str], category: str | None) -> "RootCauseForm":
        for f, why in zip(self.why_fields, whys or []):
            f.data = why
        self.cause_category.data = category
        return self


class ActionForm(PrefixedForm):
    form_prefix = "act"
    description = TextAreaField(_l("Action"), validators=[DataRequired(_l("Describe the action.")),
                                                          Length(max=TEXT_MAX)])
    owner_id = SelectField(_l("Owner"), coerce=optional_id, validate_choice=False)
    due_on = DateField(_l("Due by"), validators=[DataRequired(_l("Choose a due date from today on."))])


class CompleteForm(PrefixedForm):
    form_prefix = "done"
    note = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=TEXT_MAX)])


class CloseForm(PrefixedForm):
    form_prefix = "close"
    password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Enter your password to sign."))])
