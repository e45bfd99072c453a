"""Extension points of the objectives domain, filled by the domains that own the data.

* automatic metrics (``register_metric``): a key, a label, and ``fn(period_start, period_end) -> float | None``
  computing the value of a closed period (both dates inclusive; None when there is no data). Objectives whose
  data source is that key are measured by the job ``compute_automatic_measurements``. E.g. from portal/policy::

      from portal.objectives.registry import register_metric
      register_metric("policy.acknowledgement_rate", _l("Policy acknowledgement rate (%)"), acknowledgement_rate)

  A metric registered with ``per_department=True`` measures one department: its ``fn(period_start, period_end,
  department_id)`` is called with the objective's department (training's completion rate per department).

* actions offered on a missed measurement (``register_missed_action``): ``fn(objective, measurement)`` returns
  a list of ``(label, url)`` links shown on the objective's page, e.g. "Open a corrective action" from CAPA.

The objectives domain imports none of its providers: they import this module and register in their
``hooks.setup()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from portal.core.registry import Registry

#: fn(start, end), or fn(start, end, department_id) for a metric registered with per_department=True
MetricFn = Callable[..., "float | None"]
MissedActionFn = Callable[[object, object], list]


@dataclass(frozen=True)
class Metric:
    key: str
    label: object  # a lazy string
    fn: MetricFn
    #: True: ``fn(start, end, department_id)`` measures the objective's department; else ``fn(start, end)``.
    per_department: bool = False

    def compute(self, start: date, end: date, department_id: int | None = None) -> "float | None":
        """The value for the period (the objective's department for a per-department metric)."""
        if self.per_department:
            return self.fn(start, end, department_id)
        return self.fn(start, end)


metrics_registry: Registry[Metric] = Registry("objective metrics")
missed_actions_registry: Registry[MissedActionFn] = Registry("missed-objective actions")


def register_metric(key: str, label, fn: MetricFn, *, per_department: bool = False) -> Metric:
    """Register (or replace) the automatic metric ``key``. ``manual`` is reserved."""
    if not key or key == "manual" or len(key) > 64:
        raise ValueError(f"bad metric key {key!r}: 1–64 characters, and not 'manual'")
    return metrics_registry.register(key, Metric(key, label, fn, per_department))


def unregister_metric(key: str) -> None:
    metrics_registry.unregister(key)


def metrics() -> list[Metric]:
    """The registered metrics, in registration order."""
    return metrics_registry.values()


def get_metric(key: str) -> Metric | None:
    return metrics_registry.get(key)


def _action_key(fn: MissedActionFn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}#{id(fn)}"


def register_missed_action(fn: MissedActionFn) -> None:
    missed_actions_registry.register(_action_key(fn), fn)


def unregister_missed_action(fn: MissedActionFn) -> None:
    missed_actions_registry.unregister(_action_key(fn))


def missed_actions() -> list[MissedActionFn]:
    return missed_actions_registry.values()
