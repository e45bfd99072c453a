from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import optional_id, parse_int
from portal.feedback.models import CHANNEL_LABELS, KIND_LABELS, RATING_LABELS, RATINGS, STAFF_CHANNELS, STAFF_KINDS
from portal.org.forms import MultiCheckboxField


def optional_rating(value) -> int | None:
    """``coerce=`` of a rating: None for no choice, 1–5, else ValueError (an invalid choice, not a 500)."""
    if value in (None, ""):
        return None
    number = parse_int(value, minimum=1, maximum=5)
    if number is None:
        raise ValueError(str(_l("Not a valid choice.")))
    return number


def optional_nps(value) -> int | None:
    if value in (None, ""):
        return None
    number = parse_int(value, minimum=0, maximum=10)
    if number is None:
        raise ValueError(str(_l("Not a valid choice.")))
    return number


def _rating_choices():
    return [(r, RATING_LABELS[r]) for r in RATINGS]


class KioskForm(PortalForm):
    """The customer's form at a service point. Rating first; everything else optional."""

    form_token = HiddenField()
    rating = RadioField(_l("How satisfied are you with our service today?"), choices=_rating_choices,
                        coerce=optional_rating, validators=[DataRequired(_l("Please choose how satisfied you are."))])
    nps = RadioField(_l("How likely are you to recommend us to friends or family? (0–10, optional)"),
                     choices=lambda: [(n, str(n)) for n in range(11)], coerce=optional_nps, validators=[Optional()],
                     validate_choice=False)
    categories = MultiCheckboxField(_l("What was it about? (optional)"), validate_choice=False)
    comment = TextAreaField(_l("Anything you would like to tell us? (optional, at most 500 characters)"),
                            validators=[Optional(), Length(max=500)])
    consent = BooleanField(_l("I agree to be contacted about this feedback"))
    contact = StringField(_l("Mobile number or email (only if you agree above)"),
                          validators=[Optional(), Length(max=254)])
    #: Left empty by people (it is hidden from them); bots fill in every field they find.
    website = StringField(_l("Leave this field empty"), validators=[Optional(), Length(max=200)])
    #: A tablet that kept a rating while offline sends when it was given (milliseconds since 1970).
    rated_at = HiddenField()


class ResolutionRatingForm(PortalForm):
    rating = RadioField(_l("How satisfied are you with how your feedback was handled?"), choices=_rating_choices,
                        coerce=optional_rating, validators=[DataRequired(_l("Please choose how satisfied you are."))])


class StaffFeedbackForm(PortalForm):
    """多渠道投诉登记: what a customer told us by phone, letter, email, 12345, social media or in person."""

    request_key = HiddenField()
    channel = SelectField(_l("Received by"), choices=lambda: [(c, CHANNEL_LABELS[c]) for c in STAFF_CHANNELS])
    kind = SelectField(_l("Kind"), choices=lambda: [(k, KIND_LABELS[k]) for k in STAFF_KINDS])
    service_point_id = SelectField(_l("Service point (if any)"), coerce=optional_id, validate_choice=False)
    department_id = SelectField(_l("Department concerned (when no service point)"), coerce=optional_id,
                                validate_choice=False)
    rating = SelectField(_l("Rating, if the customer gave one"), coerce=optional_rating, validate_choice=False)
    comment = TextAreaField(_l("What the customer said"), validators=[DataRequired(), Length(max=2000)])
    contact_name = StringField(_l("Customer's name (optional)"), validators=[Optional(), Length(max=50)])
    contact_phone = StringField(_l("Customer's phone (optional)"), validators=[Optional(), Length(max=30)])
    contact_email = StringField(_l("Customer's email (optional)"), validators=[Optional(), Length(max=254)])
    consent = BooleanField(_l("The customer agreed to be contacted about this feedback"))


class ServicePointForm(PortalForm):
    code = StringField(_l("Code (printed on the posters, cannot change later)"),
                       validators=[DataRequired(), Length(max=16)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    department_id = SelectField(_l("Department"), coerce=optional_id, validate_choice=False)
    process_id = SelectField(_l("Process served (from the responsibility matrix)"), coerce=optional_id,
                             validate_choice=False)
    opening_hours = StringField(_l("Opening hours"), validators=[Optional(), Length(max=200)])
    categories_text = TextAreaField(_l("Categories offered on the form, one per line (empty: the defaults)"),
                                    validators=[Optional(), Length(max=400)])
    active = BooleanField(_l("Active"), default=True)


class StaffCodeForm(PortalForm):
    user_id = SelectField(_l("Employee"), coerce=optional_id, validate_choice=False)


class QueryLookupForm(PortalForm):
    code = StringField(_l("Follow-up code"), validators=[DataRequired(), Length(max=40)])
