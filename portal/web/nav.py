"""Role-dependent navigation. Each domain registers its entries in its ``hooks.setup()`` with
``register_nav(NavEntry(...), order=…)``; entries show in ``order`` within their group."""
from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from portal.core.registry import DEFAULT_ORDER, Registry


@dataclass(frozen=True)
class NavEntry:
    label: object
    endpoint: str
    roles: tuple[str, ...] = ()  # empty: everyone logged in
    group: str = "main"  # main | admin


nav_entries: Registry[NavEntry] = Registry("navigation")


def register_nav(entry: NavEntry, *, order: int = DEFAULT_ORDER) -> NavEntry:
    """Register (or replace) the entry for ``entry.endpoint``."""
    return nav_entries.register(entry.endpoint, entry, order=order)


def navigation(user, group: str = "main") -> list[dict]:
    if not user or not user.is_authenticated:
        return []
    out = []
    for entry in nav_entries:
        if entry.group != group or (entry.roles and not user.has_role(*entry.roles)):
            continue
        out.append({"label": entry.label, "url": url_for(entry.endpoint), "endpoint": entry.endpoint})
    return out
