"""The one registry primitive under every extension point of the portal.

A :class:`Registry` holds named entries with an order. Registering a key again replaces its entry (the
domains' ``setup()`` may run more than once in a test process); ``replace=False`` refuses that instead.
Entries come back sorted by ``(order, first registration)``, so a domain decides where its entry stands
without knowing the others. Every registry of the portal is one of these:

============================  ==========================================  ============================
registry                      register with                               read by
============================  ==========================================  ============================
navigation                    ``portal.web.nav.register_nav``             the navigation bar
home to-dos                   ``portal.home.registry.register_todo_provider``  我的待办
home panels                   ``portal.home.registry.register_home_panel``     我的待办
notification kinds            ``portal.notify.registry.register_kind``    preferences, delivery
digest sections               ``portal.notify.registry.register_digest_section``  the daily digest
email sources                 ``portal.notify.registry.register_email_source``  delivery of emails to an address
objective metrics             ``portal.objectives.registry.register_metric``   automatic measurements
missed-objective actions      ``portal.objectives.registry.register_missed_action``  objective page
audit action labels           ``portal.audit.registry.register_action_labels``  the audit trail, its export
audit object types            ``portal.audit.registry.register_object_type``    the audit trail, its export
periodic jobs                 :func:`register_cron` (below)               ``rq cron portal.cron``
demo seeders                  :func:`register_demo_seeder` (below)        ``flask portal seed-demo``
============================  ==========================================  ============================

Domains register in their ``hooks.setup()`` (see ``portal/domains.py``), never as a side effect of
importing views.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

DEFAULT_ORDER = 100


class Registry(Generic[T]):
    """Named, ordered entries: ``register(key, value, order=…)``, ``unregister(key)``, ``get(key)``,
    iteration in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, tuple[int, int, T]] = {}
        self._sequence = count()

    def register(self, key: str, value: T, *, order: int = DEFAULT_ORDER, replace: bool = True) -> T:
        if not key:
            raise ValueError(f"{self.name}: an entry needs a key")
        if key in self._entries:
            if not replace:
                raise ValueError(f"{self.name}: {key!r} is already registered")
            _order, first, _value = self._entries[key]
            self._entries[key] = (order, first, value)
        else:
            self._entries[key] = (order, next(self._sequence), value)
        return value

    def copy(self) -> "Registry[T]":
        """A registry with the same entries (tests swap one in with ``monkeypatch.setattr``)."""
        clone: Registry[T] = Registry(self.name)
        for key, (order, _first, value) in sorted(self._entries.items(), key=lambda kv: kv[1][1]):
            clone.register(key, value, order=order)
        return clone

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)

    def get(self, key: str, default: T | None = None) -> T | None:
        entry = self._entries.get(key)
        return entry[2] if entry else default

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        ordered = sorted(self._entries.items(), key=lambda kv: (kv[1][0], kv[1][1]))
        return [(key, value) for key, (_o, _s, value) in ordered]

    def keys(self) -> list[str]:
        return [key for key, _value in self.items()]

    def values(self) -> list[T]:
        return [value for _key, value in self.items()]

    def __iter__(self) -> Iterator[T]:
        return iter(self.values())


# -- periodic jobs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CronJob:
    name: str
    func: Callable
    #: a cron string, read in the scheduler's local time (``rq cron`` runs with TZ=Asia/Shanghai) …
    cron: str | None = None
    #: … or an interval in seconds
    interval: int | None = None
    queue: str = "default"


cron_jobs: Registry[CronJob] = Registry("cron jobs")


def register_cron(name: str, func: Callable, *, cron: str | None = None, interval: int | None = None,
                  queue: str = "default", order: int = DEFAULT_ORDER) -> CronJob:
    """A periodic job for ``rq cron portal.cron``: exactly one of ``cron`` or ``interval``."""
    if (cron is None) == (interval is None):
        raise ValueError(f"cron job {name!r}: give exactly one of cron= or interval=")
    return cron_jobs.register(name, CronJob(name, func, cron, interval, queue), order=order)


# -- demo data -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoSeeder:
    key: str
    #: fn() -> number of records created; idempotent (a second run creates nothing)
    fn: Callable[[], int]


demo_seeders: Registry[DemoSeeder] = Registry("demo seeders")


def register_demo_seeder(key: str, fn: Callable[[], int], *, order: int = DEFAULT_ORDER) -> DemoSeeder:
    """Demo data for ``flask portal seed-demo``; seeders run in ``order`` (the organisation first)."""
    return demo_seeders.register(key, DemoSeeder(key, fn), order=order)
