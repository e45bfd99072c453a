"""Forms of the working-day calendar."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.forms import PortalForm


class OverrideForm(PortalForm):
    day = StringField(_l("Date"), validators=[DataRequired(), Length(max=10)])
    is_workday = SelectField(_l("Status"), choices=lambda: [("1", _l("Working day")), ("0", _l("Day off"))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=100)])


class HolidayListForm(PortalForm):
    """A year's holiday list: typed as lines, or uploaded as .xlsx/.csv (the file wins when both are given)."""

    lines = TextAreaField(_l("Holiday list, one day or range per line"), validators=[Optional(), Length(max=20000)])
    file = FileField(_l("Or upload the list (.xlsx or .csv)"))
