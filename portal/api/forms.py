from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.api.models import SCOPE_LABELS
from portal.core.forms import PortalForm
from portal.org.forms import MultiCheckboxField


class TokenForm(PortalForm):
    name = StringField(_l("Name (the device or system)"), validators=[DataRequired(), Length(max=100)])
    scopes = MultiCheckboxField(_l("Scopes"), choices=lambda: [(k, v) for k, v in SCOPE_LABELS.items()],
                                default=["write"])
