"""纠正预防措施 (CAPA): corrective and preventive actions, from a feedback ticket, an incident, a missed quality
objective or by hand; root cause (5 whys and 人机料法环测), actions with owners and due dates, an effectiveness
check on the point's CSAT before and after, and closure signed by the quality manager.

services.py (the rules), sources.py (what a CAPA comes from, and the links offered on those pages), views.py (the
pages at /capa), ladder.py (overdue actions: notifications, escalation, the digest section and to-dos), demo.py."""
from flask import Blueprint

bp = Blueprint("capa", __name__, url_prefix="/capa")

from portal.capa import views  # noqa: E402,F401
