from flask_babel import lazy_gettext as _l
from portal.core.forms import PortalForm
from portal.core.parsing import optional_id, parse_id_strict
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ProcessForm(PortalForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Process name"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    parent_id = SelectField(_l("Parent process"), coerce=optional_id, validate_choice=False)
    clause_ids = SelectMultipleField(_l("ISO 9001 clauses"), coerce=parse_id_strict, validate_choice=False)
    sort_order = IntegerField(_l("Sort order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)])
