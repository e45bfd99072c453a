"""The queue pages' forms (CSRF through PortalForm)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import HiddenField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import MAX_DB_INT, optional_id, parse_id
from portal.triage.models import CALLBACK_OUTCOMES, STATUSES


def _ids(values) -> list[int]:
    return [i for i in (parse_id(v) for v in (values or ())) if i is not None]


class TicketForm(PortalForm):
    """A form of the ticket page: its fields carry a prefix, so that the page's forms have distinct ids."""

    form_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)


class StatusForm(TicketForm):
    form_prefix = "st"
    to = HiddenField(validators=[DataRequired(), Length(max=20)])

    def validate_to(self, field):
        if field.data not in STATUSES:
            raise ValueError(str(_l("Not a valid choice.")))


class AssignForm(TicketForm):
    form_prefix = "as"
    assignee_id = SelectField(_l("Assignee"), coerce=optional_id, validate_choice=False)


class ReassignForm(TicketForm):
    form_prefix = "re"
    department_id = SelectField(_l("Move to the queue of"), coerce=optional_id, validate_choice=False)
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Give the reason for the reassignment.")),
                                                    Length(max=500)])


class NoteForm(TicketForm):
    form_prefix = "note"
    request_key = HiddenField()
    text = TextAreaField(_l("Internal note (not shown to the customer)"),
                         validators=[DataRequired(_l("Write the note.")), Length(max=5000)])


class ReplyForm(TicketForm):
    form_prefix = "reply"
    request_key = HiddenField()
    text = TextAreaField(_l("Reply to the customer (shown on the follow-up code page)"),
                         validators=[DataRequired(_l("Write the reply.")), Length(max=5000)])


CALLBACK_LABELS = {"reached": lazy_pgettext("call-back", "Reached the customer"),
                   "not_reached": lazy_pgettext("call-back", "Could not reach the customer")}


def _outcome_choices():
    return [(k, CALLBACK_LABELS[k]) for k in CALLBACK_OUTCOMES]


class CallbackForm(TicketForm):
    form_prefix = "cb"
    request_key = HiddenField()
    called_at = DateTimeLocalField(_l("Called at"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(_l("Enter when the customer was called."))])
    outcome = RadioField(_l("Outcome"), choices=_outcome_choices,
                         validators=[DataRequired(_l("Choose whether the customer was reached."))])
    note = TextAreaField(_l("What was said"), validators=[Optional(), Length(max=5000)])


class MergeForm(TicketForm):
    form_prefix = "merge"
    into_id = IntegerField(_l("Duplicate of ticket number"),
                           validators=[DataRequired(_l("Enter the number of the ticket to keep.")),
                                       NumberRange(min=1, max=MAX_DB_INT)])


class FlagForm(TicketForm):
    form_prefix = "flag"
    value = HiddenField(validators=[Optional(), Length(max=1)])


class BulkForm(PortalForm):
    ids = SelectMultipleField(_l("Tickets"), coerce=str, validate_choice=False)
    action = StringField(_l("Action"), validators=[Optional(), Length(max=10)])
    assignee_id = SelectField(_l("Assignee"), coerce=optional_id, validate_choice=False)

    def ticket_ids(self) -> list[int]:
        return _ids(self.ids.data)
