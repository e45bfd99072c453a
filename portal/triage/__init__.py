"""工单处理: the departments' queues of customer feedback (tickets), their SLAs, the 差评 closed loop.

The foundation: models, routing, the lifecycle, notes, call-backs, reassignment and flags as services
(services.py); the queue pages at /queue (views.py, reads and bulk actions in queue.py, the customer's side in
reply.py); the incidents' pages and the queues' settings (SLA policies, routing rules) in admin_views.py; the monthly
ranking (月度排名通报) at /ranking (ranking.py, ranking_views.py)."""
from flask import Blueprint

bp = Blueprint("queue", __name__, url_prefix="/queue")
ranking_bp = Blueprint("ranking", __name__, url_prefix="/ranking")

from portal.triage import admin_views, ranking_views, views  # noqa: E402,F401
