"""The "我的待办" page is filled by two registries, both filled in the domains' ``hooks.setup()``.

* to-do providers (``register_todo_provider``): ``fn(user) -> list[TodoItem]``, the user's open items;
* home panels (``register_home_panel``): a template and ``context(user) -> dict | None`` (None: the panel
  is not shown to this user). The home page includes each panel's template with its context; it names
  no domain's template itself.

Both run on every visit to the home page: a provider must be cheap (a query or two).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from portal.core.registry import DEFAULT_ORDER, Registry


@dataclass
class TodoItem:
    title: str
    url: str
    category: str
    due: datetime | None = None
    detail: str = ""
    urgent: bool = False
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HomePanel:
    key: str
    template: str
    context: Callable[[object], dict | None]


todo_providers: Registry[Callable] = Registry("home to-dos")
home_panels: Registry[HomePanel] = Registry("home panels")


def register_todo_provider(name: str, fn: Callable | None = None, *, order: int = DEFAULT_ORDER):
    """``register_todo_provider("training", fn)``, or as a decorator. Re-registering a name replaces it."""
    if fn is not None:
        return todo_providers.register(name, fn, order=order)
    return lambda f: todo_providers.register(name, f, order=order)


def register_home_panel(key: str, template: str, context: Callable[[object], dict | None], *,
                        order: int = DEFAULT_ORDER) -> HomePanel:
    return home_panels.register(key, HomePanel(key, template, context), order=order)


def todo_items(user) -> list[TodoItem]:
    items: list[TodoItem] = []
    for provider in todo_providers:
        items.extend(provider(user))
    return sorted(items, key=lambda i: (not i.urgent, i.due is None, i.due or datetime.max))


def panels_for(user) -> list[tuple[str, dict]]:
    """(template, context) of every panel shown to ``user``, in order."""
    shown = []
    for panel in home_panels:
        context = panel.context(user)
        if context is not None:
            shown.append((panel.template, context))
    return shown
