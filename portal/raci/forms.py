from flask_babel import lazy_gettext as _l
from portal.core.forms import PortalForm
from flask_wtf.file import FileField, FileRequired


class MatrixUploadForm(PortalForm):
    file = FileField(_l("Matrix workbook (.xlsx)"), validators=[FileRequired()])
