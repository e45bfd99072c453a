"""Role-dependent navigation. Later domains append their entries with ``register_nav``."""
from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from flask_babel import lazy_gettext as _l

from portal.core.roles import ADMIN, QUALITY_MANAGER


@dataclass(frozen=True)
class NavEntry:
    label: object
    endpoint: str
    roles: tuple[str, ...] = ()  # empty: everyone logged in
    group: str = "main"  # main | admin


_entries: list[NavEntry] = [
    NavEntry(_l("My tasks"), "home.index"),
    NavEntry(_l("Users"), "org.users", (ADMIN,), "admin"),
    NavEntry(_l("Departments"), "org.departments", (ADMIN,), "admin"),
    NavEntry(_l("Roster import"), "org.roster_import", (ADMIN,), "admin"),
    NavEntry(_l("Audit trail"), "audit.index", (ADMIN, QUALITY_MANAGER), "admin"),
]


def register_nav(entry: NavEntry) -> None:
    if entry not in _entries:
        _entries.append(entry)


def navigation(user, group: str = "main") -> list[dict]:
    if not user or not user.is_authenticated:
        return []
    out = []
    for entry in _entries:
        if entry.group != group or (entry.roles and not user.has_role(*entry.roles)):
            continue
        out.append({"label": entry.label, "url": url_for(entry.endpoint), "endpoint": entry.endpoint})
    return out
