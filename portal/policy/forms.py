from flask_babel import lazy_gettext as _l
from portal.core.forms import PortalForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.policy.services import BODY_MAX, TITLE_MAX


class PolicyForm(PortalForm):
    title = StringField(_l("Policy statement"), validators=[DataRequired(), Length(max=TITLE_MAX)],
                        description=_l("The policy in one sentence, e.g. 以客户为中心，规范服务，持续改进，追求卓越"))
    body = TextAreaField(_l("Explanation"), validators=[DataRequired(), Length(max=BODY_MAX)],
                         description=_l("Plain text. Separate paragraphs with an empty line."))


class ApproveForm(PortalForm):
    """The electronic signature: the approver types their password again."""

    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    #: The hash of the text shown to the approver: if the draft changes meanwhile, nothing is signed.
    content_sha256 = HiddenField()
