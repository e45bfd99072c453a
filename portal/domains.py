"""The portal's domains, in layer order: the one list that the web app, the RQ worker, ``rq cron`` and the
CLI all load (each through :func:`load`).

A domain may import the domains of its own layer and of the layers before it, never one after it, and
never in a cycle; ``tests/test_layers.py`` enforces this on every import in ``portal/``. Adding a domain
means creating its package (``__init__.py`` with ``bp``, ``models.py``, ``services.py``, ``views.py``,
``hooks.py``) and adding its name to one line below. See docs/architecture.md.

Each domain's ``hooks.py`` is the one place that says what it contributes:

* ``BLUEPRINTS``: the blueprints the web app registers;
* ``init_app(app)`` (optional): what belongs to the web app itself, such as a template global;
* ``setup()``: everything else, registered once per process: navigation, notification kinds, digest
  sections, metrics, to-dos, home panels, periodic jobs, demo seeders, signal subscribers.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from portal.core.rq import job

#: Lowest first. ``core`` (portal.core, portal.extensions, portal.signals) is below all of them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("web", "audit", "home"),   # request plumbing, the audit trail every domain writes, the home page
    ("org",),                   # departments, positions, users
    ("auth", "api"),            # login, lockout, sessions; API tokens, problem details, the OpenAPI document
    ("esign", "workcal"),       # electronic signatures, the working-day calendar
    ("notify",),                # notifications, outbox, digest
    ("processes",),             # processes and GB/T 19001 clauses
    ("raci",),                  # the responsibility matrix
    ("policy", "objectives"),   # quality policy, quality objectives
    ("sop", "feedback"),        # document control; customer feedback intake (service points, kiosk, API)
    ("training", "triage"),     # training sign-offs, matrix, qualifications; the feedback queues (工单处理)
    ("capa",),                  # corrective and preventive actions (纠正预防措施)
)

DOMAINS: tuple[str, ...] = tuple(name for layer in LAYERS for name in layer)

_loaded: list[ModuleType] | None = None


def hooks_modules() -> list[ModuleType]:
    """Every domain's ``hooks`` module, in layer order (imported, not set up)."""
    return [importlib.import_module(f"portal.{name}.hooks") for name in DOMAINS]


def load() -> list[ModuleType]:
    """Run every domain's ``setup()`` once in this process, in layer order; return the hooks modules."""
    global _loaded
    if _loaded is None:
        modules = hooks_modules()
        for module in modules:
            module.setup()
        _loaded = modules
    return _loaded


def init_app(app) -> None:
    """Load the domains and register their blueprints on ``app``."""
    for module in load():
        for blueprint in getattr(module, "BLUEPRINTS", ()):
            app.register_blueprint(blueprint)
        if hasattr(module, "init_app"):
            module.init_app(app)


def wiring_report() -> dict[str, list[str]]:
    """The keys of every registry as this process sees them (the wiring test compares the web app's with a
    worker's; an operator can run it as a job to check a worker)."""
    from portal import signals
    from portal.audit.registry import action_labels, object_types
    from portal.core.registry import cron_jobs, demo_seeders
    from portal.home.registry import home_panels, todo_providers
    from portal.notify.registry import email_sources, notification_kinds, sections
    from portal.objectives.registry import metrics_registry
    from portal.processes.registry import accountability
    from portal.web.nav import nav_entries, nav_menus

    load()
    registries = {
        "navigation": nav_entries, "navigation_menus": nav_menus, "todo_providers": todo_providers, "home_panels": home_panels,
        "notification_kinds": notification_kinds, "digest_sections": sections, "email_sources": email_sources,
        "metrics": metrics_registry,
        "process_accountability": accountability, "cron_jobs": cron_jobs, "demo_seeders": demo_seeders,
        "audit_action_labels": action_labels, "audit_object_types": object_types,
    }
    report = {name: registry.keys() for name, registry in registries.items()}
    report["signal_receivers"] = sorted(f"{s.name}:{len(s.receivers)}" for s in signals.ALL)
    return report


@job
def report_wiring() -> dict[str, list[str]]:
    """``wiring_report()`` run by a worker, inside the app the worker builds for its jobs."""
    return wiring_report()
