"""Forms of qualifications. Choices are filled by the views from the services; the services check everything
again."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core.forms import PortalForm
from portal.core.parsing import id_or_zero, optional_id
from portal.org.forms import MultiCheckboxField
from portal.sop.forms import _date_or_none
from portal.training.qualifications import (DESCRIPTION_MAX, ISSUER_MAX, NAME_MAX, NUMBER_MAX, REASON_MAX,
                                            VALIDITY_MAX)


class QualificationTypeForm(PortalForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    validity_months = IntegerField(_l("Validity (months)"), validators=[Optional(), NumberRange(min=1, max=VALIDITY_MAX)],
                                   description=_l("Leave empty for a certificate that never expires."))
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    position_ids = MultiCheckboxField(_l("Required of these positions"), coerce=id_or_zero, validate_choice=False)


class CertificateForm(PortalForm):
    request_key = HiddenField()
    type_id = SelectField(_l("Qualification type"), coerce=optional_id, validate_choice=False)
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=NUMBER_MAX)])
    issuer = StringField(_l("Issued by"), validators=[Optional(), Length(max=ISSUER_MAX)])
    issued_on = StringField(_l("Date of issue"), validators=[DataRequired(), _date_or_none])
    expires_on = StringField(_l("Expiry date"), validators=[Optional(), _date_or_none],
                             description=_l("Leave empty: the date of issue plus the type's validity."))
    scan = FileField(_l("Scan (PDF or picture, optional)"))


class RevokeForm(PortalForm):
    reason = TextAreaField(_l("Why is the certificate withdrawn?"), validators=[DataRequired(), Length(max=REASON_MAX)])
