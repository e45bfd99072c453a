"""The 差评 loop's forms: the rectification with evidence, the appeal, and the quality manager's signed decision.
Required texts and the files' content are checked by the services (portal/triage/loop.py), so a refusal reads the
same from a page and from a test of the service."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, PasswordField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.core.forms import PortalForm
from portal.triage.forms import TicketForm
from portal.triage.loop import GROUNDS_LABELS, NOTE_MAX

UPHOLD, REJECT = "uphold", "reject"
DECISION_LABELS = {UPHOLD: _l("Uphold: the rating is left out of the KPIs (it stays visible)"),
                   REJECT: _l("Reject: the rating counts")}


def uploads(field) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every file chosen in a MultipleFileField (an empty file input sends none)."""
    return [(f.filename, f.read()) for f in (field.data or ()) if getattr(f, "filename", "")]


class RectifyForm(TicketForm):
    form_prefix = "rect"
    request_key = HiddenField()
    note = TextAreaField(_l("What was done (整改说明)"), validators=[Optional(), Length(max=NOTE_MAX)])
    files = MultipleFileField(_l("Evidence files (PDF, JPEG or PNG)"))


class AppealForm(TicketForm):
    form_prefix = "appeal"
    request_key = HiddenField()
    grounds = RadioField(_l("The rating is"), choices=lambda: list(GROUNDS_LABELS.items()), validate_choice=False,
                         validators=[Optional()])
    reason = TextAreaField(_l("Reason for the appeal"), validators=[Optional(), Length(max=NOTE_MAX)])
    files = MultipleFileField(_l("Evidence files (PDF, JPEG or PNG)"))


class DecideForm(PortalForm):
    """One per pending appeal on the 申诉复核 page, prefixed ``ap<id>`` so the page's fields have distinct ids."""

    decision = RadioField(_l("Decision"), choices=lambda: list(DECISION_LABELS.items()),
                          validators=[DataRequired(_l("Choose to uphold or reject the appeal."))])
    note = TextAreaField(_l("Reason for the decision"), validators=[Optional(), Length(max=NOTE_MAX)])
    password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Enter your password to sign."))])

    @property
    def uphold(self) -> bool:
        return self.decision.data == UPHOLD
