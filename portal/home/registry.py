"""The "我的待办" registry: each domain registers a provider that lists the user's open items.

A provider is ``fn(user) -> list[TodoItem]``. It must be cheap (a query or two); the home page calls
every provider on each visit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

_providers: list[tuple[str, Callable]] = []


@dataclass
class TodoItem:
    title: str
    url: str
    category: str
    due: datetime | None = None
    detail: str = ""
    urgent: bool = False
    meta: dict = field(default_factory=dict)


def register_todo_provider(name: str):
    """Decorator: ``@register_todo_provider("training")``. Re-registering a name replaces it."""

    def decorator(fn: Callable):
        _providers[:] = [(n, f) for n, f in _providers if n != name]
        _providers.append((name, fn))
        return fn

    return decorator


def todo_items(user) -> list[TodoItem]:
    items: list[TodoItem] = []
    for _name, provider in _providers:
        items.extend(provider(user))
    return sorted(items, key=lambda i: (not i.urgent, i.due is None, i.due or datetime.max))
