"""Extension points of the objectives domain, filled by the domains that own the data.

* automatic metrics (``register_metric``): a key, a label, and ``fn(period_start, period_end) -> float | None``
  computing the value of a closed period (both dates inclusive; None when there is no data). Objectives whose
  data source is that key are measured by the job ``compute_automatic_measurements``. E.g. from portal/policy::

      from portal.objectives.registry import register_metric
      register_metric("policy.acknowledgement_rate", _l("Policy acknowledgement rate (%)"), acknowledgement_rate)

* actions offered on a missed measurement (``register_missed_action``): ``fn(objective, measurement)`` returns
  a list of ``(label, url)`` links shown on the objective's page, e.g. "Open a corrective action" from CAPA.

The objectives domain imports none of its providers: they import this module and register at import time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

MetricFn = Callable[[date, date], "float | None"]
MissedActionFn = Callable[[object, object], list]


@dataclass(frozen=True)
class Metric:
    key: str
    label: object  # a lazy string
    fn: MetricFn


_metrics: dict[str, Metric] = {}
_missed_actions: list[MissedActionFn] = []


def register_metric(key: str, label, fn: MetricFn) -> Metric:
    """Register (or replace) the automatic metric ``key``. ``manual`` is reserved."""
    if not key or key == "manual" or len(key) > 64:
        raise ValueError(f"bad metric key {key!r}: 1–64 characters, and not 'manual'")
    metric = Metric(key, label, fn)
    _metrics[key] = metric
    return metric


def unregister_metric(key: str) -> None:
    _metrics.pop(key, None)


def metrics() -> list[Metric]:
    """The registered metrics, in registration order."""
    return list(_metrics.values())


def get_metric(key: str) -> Metric | None:
    return _metrics.get(key)


def register_missed_action(fn: MissedActionFn) -> None:
    if fn not in _missed_actions:
        _missed_actions.append(fn)


def unregister_missed_action(fn: MissedActionFn) -> None:
    if fn in _missed_actions:
        _missed_actions.remove(fn)


def missed_actions() -> list[MissedActionFn]:
    return list(_missed_actions)
