"""Forms of the objectives domain. Numbers, periods and choices are parsed and checked by the services, so
that a form and the automatic job get the same rules and the same messages."""
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import optional_id
from portal.objectives.models import DIRECTION_LABELS, PERIOD_LABELS


class ObjectiveForm(PortalForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    department_id = SelectField(_l("Owner department"), coerce=optional_id, validate_choice=False)
    process_id = SelectField(_l("Process"), coerce=optional_id, validate_choice=False)
    metric_definition = TextAreaField(_l("Metric definition"), validators=[Optional(), Length(max=4000)],
                                      description=_l("How the value is calculated, e.g. satisfied answers ÷ all answers × 100%."))
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=16)], description=_l("e.g. %, ‰, 分, 分钟, 件"))
    direction = SelectField(_l("Direction"), choices=lambda: list(DIRECTION_LABELS.items()), validate_choice=False)
    target = StringField(_l("Target"))
    period = SelectField(_l("Period"), choices=lambda: list(PERIOD_LABELS.items()), validate_choice=False)
    data_source = SelectField(_l("Data source"), validate_choice=False)
    tolerance_percent = StringField(_l("Tolerance for “at risk” (percent of the target)"), default="5",
                                    description=_l("A value that misses the target by at most this share of the target is “at risk”, beyond it “missed”."))


class MeasurementForm(PortalForm):
    period_start = SelectField(_l("Period"), validate_choice=False)
    value = StringField(_l("Value"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])
    reason = StringField(_l("Reason for a correction"), validators=[Optional(), Length(max=500)],
                         description=_l("Needed when the period already has a value; kept in the audit trail."))
