"""Forms of the incidents' pages and the queues' settings (CSRF through PortalForm)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import optional_id
from portal.triage.forms import TicketForm
from portal.triage.services import REASON_MAX, TEXT_MAX
from portal.triage.settings import MAX_TARGET_MINUTES


# -- an incident ----------------------------------------------------------------------------------
class IncidentAssignForm(TicketForm):
    form_prefix = "ia"
    assignee_id = SelectField(_l("Assign every open ticket to"), coerce=optional_id, validate_choice=False)


class IncidentNoteForm(TicketForm):
    form_prefix = "in"
    request_key = HiddenField()
    text = TextAreaField(_l("Internal note on every open ticket (not shown to the customers)"),
                         validators=[DataRequired(_l("Write the note.")), Length(max=TEXT_MAX)])


class IncidentReplyForm(TicketForm):
    form_prefix = "ir"
    request_key = HiddenField()
    text = TextAreaField(_l("Reply to every customer (shown on each follow-up code page)"),
                         validators=[DataRequired(_l("Write the reply.")), Length(max=TEXT_MAX)])


class IncidentCloseForm(TicketForm):
    form_prefix = "ic"
    note = TextAreaField(_l("What was done (kept in the audit trail)"), validators=[Optional(), Length(max=REASON_MAX)])


# -- settings -------------------------------------------------------------------------------------
def _minutes(label):
    return IntegerField(label, validators=[
        InputRequired(_l("Enter a whole number of working minutes.")),
        NumberRange(min=1, max=MAX_TARGET_MINUTES,
                    message=_l("Enter a whole number of working minutes from 1 to 100000."))])


class SlaPolicyForm(PortalForm):
    """One priority's row (the priority is the form's prefix)."""

    first_response_minutes = _minutes(_l("First response (working minutes)"))
    resolution_minutes = _minutes(_l("Resolution (working minutes)"))
    warn_at = StringField(_l("Warnings at (per cent of the resolution target)"), validators=[Length(max=60)])


class RoutingRuleForm(PortalForm):
    category = SelectField(_l("Feedback category"), validate_choice=False,
                           validators=[DataRequired(_l("Choose one of the categories customers can choose.")),
                                       Length(max=50)])
    department_id = SelectField(_l("Goes to the queue of"), coerce=optional_id, validate_choice=False)
