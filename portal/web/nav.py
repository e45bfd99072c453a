"""Role-dependent navigation. Each domain registers its entries in its ``hooks.setup()`` with
``register_nav(NavEntry(...), order=…)``; entries show in ``order`` within their group.

Groups: ``main`` (links in the bar), ``admin`` (the 系统管理 menu), or a menu registered with
``register_nav_menu(key, label)``: a dropdown in the bar, standing where its first entry (by order) would stand.
A menu of which the reader sees one entry only is shown as that link (no dropdown of one)."""
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


@dataclass(frozen=True)
class NavMenu:
    key: str
    label: object


#: The bar's shared menus (registered by the web domain's setup): entries name them as their ``group``.
QUALITY_MENU, FEEDBACK_MENU = "quality", "feedback"

nav_entries: Registry[NavEntry] = Registry("navigation")
nav_menus: Registry[NavMenu] = Registry("navigation menus")


def register_nav_menu(key: str, label) -> NavMenu:
    """A dropdown of the bar: entries registered with ``group=key`` go into it."""
    return nav_menus.register(key, NavMenu(key, label))


def register_nav(entry: NavEntry, *, order: int = DEFAULT_ORDER) -> NavEntry:
    """Register (or replace) the entry for ``entry.endpoint``."""
    return nav_entries.register(entry.endpoint, entry, order=order)


def navigation(user, group: str = "main") -> list[dict]:
    """The entries ``user`` sees in ``group``; for ``main``, the registered menus' entries too, each menu as one
    item ``{"label", "key", "menu": True, "entries": [...], "endpoints"}`` where its first entry stands."""
    if not user or not user.is_authenticated:
        return []
    menus = {m.key: m for m in nav_menus} if group == "main" else {}
    out: list[dict] = []
    opened: dict[str, dict] = {}
    for entry in nav_entries:
        if entry.roles and not user.has_role(*entry.roles):
            continue
        item = {"label": entry.label, "url": url_for(entry.endpoint), "endpoint": entry.endpoint}
        if entry.group == group:
            out.append(item)
        elif entry.group in menus:
            if entry.group not in opened:
                opened[entry.group] = {"label": menus[entry.group].label, "key": entry.group, "entries": [],
                                       "menu": True}
                out.append(opened[entry.group])
            opened[entry.group]["entries"].append(item)
    for menu in opened.values():
        menu["endpoints"] = {i["endpoint"] for i in menu["entries"]}
    return [item["entries"][0] if len(item.get("entries", ())) == 1 else item for item in out]
