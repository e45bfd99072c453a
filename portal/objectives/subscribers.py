"""How the objectives domain reacts to its own event ``objective_missed``: the owner department's head is
notified (once per objective and period: the dedupe key makes a repeated signal a no-op)."""
from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from portal.notify.services import notify
from portal.objectives.services import MISSED_KIND, objective_path, period_label


def notify_head_of_missed(objective, *, measurement, **_kwargs) -> None:
    department = objective.department
    head = department.head if department is not None else None
    if head is None or not head.active:
        return
    locale = head.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        period = period_label(objective.period, measurement.period_start)
        title = _("Quality objective missed: %(name)s (%(period)s)", name=objective.name, period=period)
        body = _("%(department)s, %(period)s: the value %(value)s%(unit)s misses the target %(target)s.",
                 department=department.name, period=period, value=measurement.value_text, unit=objective.unit,
                 target=objective.target_text)
    notify(head, MISSED_KIND, title, body, objective_path(objective.id), department_id=department.id,
           dedupe_key=f"objective.missed:{objective.id}:{measurement.period_start.isoformat()}")
