"""How quality objective events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.extensions import db
from portal.objectives.models import DIRECTION_LABELS, MANUAL, PERIOD_LABELS, Measurement, Objective


def _objectives(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Objective.id, Objective.name).where(Objective.id.in_(ids)))
    return {row.id: (row.name, url_for("objectives.detail", objective_id=row.id)) for row in rows}


def _measurements(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(Measurement.id, Measurement.period_start, Objective.id.label("objective_id"), Objective.name)
        .join(Objective, Objective.id == Measurement.objective_id).where(Measurement.id.in_(ids)))
    return {row.id: (f"{row.name} · {row.period_start.isoformat()}",
                     url_for("objectives.detail", objective_id=row.objective_id)) for row in rows}


def _data_source(key) -> object:
    from portal.objectives.registry import get_metric

    if key == MANUAL:
        return lazy_pgettext("audit value", "Entered by hand")
    metric = get_metric(key) if isinstance(key, str) else None
    return metric.label if metric else key


def register() -> None:
    register_action_labels({
        "objective.create": lazy_pgettext("audit action", "Created objective"),
        "objective.update": lazy_pgettext("audit action", "Edited objective"),
        "objective.activate": lazy_pgettext("audit action", "Activated objective"),
        "objective.deactivate": lazy_pgettext("audit action", "Deactivated objective"),
        "objective.delete": lazy_pgettext("audit action", "Deleted objective"),
        "objective.measurement_create": lazy_pgettext("audit action", "Recorded a measurement"),
        "objective.measurement_update": lazy_pgettext("audit action", "Corrected a measurement"),
    })
    active = {True: _l("Active"), False: _l("Inactive")}
    register_object_type("quality_objective", lazy_pgettext("audit object", "Quality objective"),
                         resolve=_objectives, fields={
        "name": _l("Name"), "process_id": lazy_pgettext("audit object", "Process"), "department_id": _l("Department"),
        "metric_definition": lazy_pgettext("audit field", "Metric definition"), "unit": lazy_pgettext("audit field", "Unit"),
        "target": lazy_pgettext("audit field", "Target"), "direction": lazy_pgettext("audit field", "Direction"),
        "period": lazy_pgettext("audit field", "Period"), "data_source": lazy_pgettext("audit field", "Data source"),
        "tolerance_percent": lazy_pgettext("audit field", "Tolerance (%)"), "active": _l("Active"),
    }, values={"process_id": "process", "department_id": "department", "direction": DIRECTION_LABELS,
               "period": PERIOD_LABELS, "active": active, "data_source": _data_source})
    register_object_type("quality_objective_measurement", lazy_pgettext("audit object", "Measurement"),
                         resolve=_measurements, fields={
        "value": lazy_pgettext("audit field", "Value"), "note": _l("Note"),
        "objective_id": lazy_pgettext("audit object", "Quality objective"),
        "period_start": lazy_pgettext("audit field", "Period start"),
    }, values={"objective_id": "quality_objective"})
