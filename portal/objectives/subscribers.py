"""How the objectives domain reacts to its own event ``objective_missed``: the owner department's head is
notified, once per objective, period and value (a repeated signal is a no-op; a corrected value that still
misses notifies again, with the new value)."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.objectives.models import format_decimal
from portal.objectives.services import notify_owner_head, period_label


def notify_head_of_missed(objective, *, measurement, **_kwargs) -> None:
    def message():
        period = period_label(objective.period, measurement.period_start)
        return (_("Quality objective missed: %(name)s (%(period)s)", name=objective.name, period=period),
                _("%(department)s, %(period)s: the value %(value)s%(unit)s misses the target %(target)s.",
                  department=objective.department.name, period=period, value=measurement.value_text,
                  unit=objective.unit, target=objective.target_text))

    notify_owner_head(objective, f"objective.missed:{objective.id}:{measurement.period_start.isoformat()}:"
                                 f"{format_decimal(measurement.value)}", message)
