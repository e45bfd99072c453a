"""Forms of the working-day calendar."""
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.forms import PortalForm


class OverrideForm(PortalForm):
    day = StringField(_l("Date"), validators=[DataRequired(), Length(max=10)])
    is_workday = SelectField(_l("Status"), choices=lambda: [("1", _l("Working day")), ("0", _l("Day off"))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=100)])
