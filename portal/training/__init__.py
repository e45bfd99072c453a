"""人员培训: training assignments and sign-offs (/training/), classroom sessions, the training matrix and
qualifications (上岗资格)."""
from flask import Blueprint

bp = Blueprint("training", __name__, url_prefix="/training")

from portal.training import matrix_views, qualification_views, session_views, views  # noqa: E402,F401
