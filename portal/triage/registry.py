"""Extension points of the queues, filled by triage's own modules and the domains above it.

* ticket panels (``register_ticket_panel``): a section on a ticket's page and side panel, e.g. the 差评 loop
  (整改, 申诉) or CAPA's "open a corrective action". ``context(ticket, user)`` returns the panel's context, or
  None to hide it for that user; the template gets it as ``panel`` (and the ticket page's context).
* incident panels (``register_incident_panel``): the same on an incident's page, ``context(incident, user)``.

Triage imports none of the providers from the layers above it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from portal.core.registry import Registry


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable[[object, object], "dict | None"]


ticket_panels: Registry[Panel] = Registry("ticket panels")
incident_panels: Registry[Panel] = Registry("incident panels")


def register_ticket_panel(key: str, template: str, context, *, order: int = 100) -> Panel:
    return ticket_panels.register(key, Panel(key, template, context), order=order)


def register_incident_panel(key: str, template: str, context, *, order: int = 100) -> Panel:
    return incident_panels.register(key, Panel(key, template, context), order=order)


def _shown(registry: Registry[Panel], item, user) -> list[tuple[str, dict]]:
    shown = []
    for panel in registry:
        context = panel.context(item, user)
        if context is not None:
            shown.append((panel.template, context))
    return shown


def ticket_panels_for(ticket, user) -> list[tuple[str, dict]]:
    """(template, context) of every panel shown to ``user`` on ``ticket``'s page, in order."""
    return _shown(ticket_panels, ticket, user)


def incident_panels_for(incident, user) -> list[tuple[str, dict]]:
    return _shown(incident_panels, incident, user)
