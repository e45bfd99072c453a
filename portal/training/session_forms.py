"""Forms of the classroom sessions. Choices are filled by the views from the services; the services check
everything again."""
from __future__ import annotations

import unicodedata
from datetime import datetime, time, timezone

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.core.forms import PortalForm
from portal.core.i18n import portal_tz
from portal.core.parsing import optional_id, parse_date, parse_id_strict
from portal.org.forms import MultiCheckboxField
from portal.training.sessions import NOTES_MAX, PLACE_MAX, TOPIC_MAX

#: What a datetime-local input sends: ``2026-12-03T14:30``.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def parse_local_datetime(value) -> datetime | None:
    """A time in the portal's zone (Asia/Shanghai) as ``yyyy-mm-ddThh:mm`` or ``yyyy-mm-dd hh:mm`` (full-width
    digits accepted, seconds ignored), returned as UTC; None for anything else."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else "")).strip().replace("T", " ")
    if not text.isascii() or len(text) > 19:
        return None
    day_part, _sep, time_part = text.partition(" ")
    day = parse_date(day_part)
    pieces = time_part.strip().split(":")
    if day is None or len(pieces) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in pieces):
        return None
    hour, minute = int(pieces[0]), int(pieces[1])
    if hour > 23 or minute > 59:
        return None
    return datetime.combine(day, time(hour, minute), portal_tz()).astimezone(timezone.utc)


def local_input(value: datetime | None) -> str:
    """A stored UTC time as a datetime-local input's value in the portal's zone."""
    return value.astimezone(portal_tz()).strftime(LOCAL_FORMAT) if value is not None else ""


def _local_datetime(form, field) -> None:
    """The parsed UTC value is left in ``field.parsed``."""
    field.parsed = parse_local_datetime(field.data) if field.data else None
    if field.data and field.parsed is None:
        raise ValidationError(_l("Enter a date and time as yyyy-mm-dd hh:mm."))


class SessionForm(PortalForm):
    topic = StringField(_l("Topic"), validators=[DataRequired(), Length(max=TOPIC_MAX)])
    trainer_id = SelectField(_l("Trainer"), coerce=optional_id, validate_choice=False)
    department_id = SelectField(_l("For the department"), coerce=optional_id, validate_choice=False)
    starts_at = StringField(_l("Starts"), validators=[DataRequired(), Length(max=19), _local_datetime])
    ends_at = StringField(_l("Ends"), validators=[DataRequired(), Length(max=19), _local_datetime])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=PLACE_MAX)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=NOTES_MAX)])
    document_ids = SelectMultipleField(_l("Documents taught (effective controlled documents)"),
                                       coerce=parse_id_strict, validate_choice=False)
    attendee_ids = SelectMultipleField(_l("Invited people"), coerce=parse_id_strict, validate_choice=False)
    fill_department_id = SelectField(_l("Also invite everyone with open training on these documents in"),
                                     coerce=optional_id, validate_choice=False)
    request_key = HiddenField()


class SignInForm(PortalForm):
    """The trainer signs the ticked attendees in with one password entry."""

    attendees = MultiCheckboxField(_l("Attended"), coerce=parse_id_strict, validate_choice=False)
    password = PasswordField(_l("Your password"), validators=[DataRequired()])

