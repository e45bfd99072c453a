from flask_babel import lazy_gettext as _l
from portal.core.forms import PortalForm
from portal.core.parsing import optional_id
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.core.roles import ROLE_LABELS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(PortalForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=100)])
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    department_id = SelectField(_l("Department"), coerce=optional_id, validate_choice=False)
    position_id = SelectField(_l("Position"), coerce=optional_id, validate_choice=False)
    # A callable: WTForms 3.3 deprecates a list of tuples passed to the constructor (the test suite turns
    # that DeprecationWarning into an error); callables are accepted by every WTForms 3.x.
    roles = MultiCheckboxField(_l("Roles"), choices=lambda: [(k, v) for k, v in ROLE_LABELS.items()])


class DepartmentForm(PortalForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    parent_id = SelectField(_l("Parent department"), coerce=optional_id, validate_choice=False)
    head_id = SelectField(_l("Head"), coerce=optional_id, validate_choice=False)
    sort_order = IntegerField(_l("Sort order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)])


class PositionForm(PortalForm):
    name = StringField(_l("Position"), validators=[DataRequired(), Length(max=100)])


class RosterUploadForm(PortalForm):
    file = FileField(_l("Roster file (.xlsx or .csv)"), validators=[FileRequired()])
