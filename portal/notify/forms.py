from flask_babel import lazy_gettext as _l
from portal.core.forms import PortalForm
from portal.core.parsing import id_or_zero
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.notify.webhooks import PLATFORMS


# Choices are given as callables: wtforms 3.3 deprecates (warns on) lists of tuples passed to SelectField().
class SettingsForm(PortalForm):
    smtp_host = StringField(_l("SMTP server"), validators=[Optional(), Length(max=255)])
    smtp_port = IntegerField(_l("Port"), validators=[Optional()])
    smtp_security = SelectField(_l("Encryption"), choices=lambda: [("none", _l("None")), ("starttls", "STARTTLS"), ("ssl", "SSL/TLS")])
    smtp_user = StringField(_l("SMTP user"), validators=[Optional(), Length(max=255)])
    smtp_password = PasswordField(_l("SMTP password (leave empty to keep)"), validators=[Optional(), Length(max=255)])
    smtp_from = StringField(_l("Sender"), validators=[DataRequired(), Length(max=255)])
    quiet_start = StringField(_l("Quiet hours start"), validators=[DataRequired(), Length(max=5)])
    quiet_end = StringField(_l("Quiet hours end"), validators=[DataRequired(), Length(max=5)])
    digest_time = StringField(_l("Daily digest time"), validators=[DataRequired(), Length(max=5)])


class WebhookForm(PortalForm):
    department_id = SelectField(_l("Department"), coerce=id_or_zero, validate_choice=False)
    platform = SelectField(_l("Platform"), choices=lambda: list(PLATFORMS.items()))
    url = StringField(_l("Webhook address"), validators=[DataRequired(), Length(max=500)])
    secret = StringField(_l("Signing secret (DingTalk, Feishu)"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("Active"), default=True)


class WebhookHostsForm(PortalForm):
    hosts = TextAreaField(_l("Other allowed hosts (one per line)"), validators=[Optional(), Length(max=10000)])


class AnnouncementForm(PortalForm):
    department_id = SelectField(_l("Recipients"), coerce=id_or_zero, validate_choice=False)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Message"), validators=[Optional(), Length(max=5000)])
    webhook = BooleanField(_l("Also post to the department's group chat"))
    #: A fresh id per rendered form: a double click or a retried POST sends the announcement once.
    request_id = HiddenField()
