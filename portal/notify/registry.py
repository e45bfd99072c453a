"""Registries filled by the domains that own the data.

* kinds of notification (``register_kind``): their label and default delivery mode;
* digest sections (``register_digest_section``): a provider that, for a *batch* of users, returns each
  user's items. Providers must run a fixed number of queries per batch, never one per user.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from portal.core.registry import DEFAULT_ORDER, Registry
from portal.notify.models import INSTANT


@dataclass(frozen=True)
class NotificationKind:
    key: str
    label: object
    default_mode: str = INSTANT
    description: object = ""


@dataclass
class DigestItem:
    title: str
    link: str = ""
    detail: str = ""


@dataclass
class DigestSection:
    key: str
    title: object
    #: provider(users, day) -> {user_id: [DigestItem, ...]}
    provider: Callable
    heads_only: bool = False
    order: int = DEFAULT_ORDER
    items: list = field(default_factory=list)


notification_kinds: Registry[NotificationKind] = Registry("notification kinds")
sections: Registry[DigestSection] = Registry("digest sections")


def register_kind(key: str, label, default_mode: str = INSTANT, description="") -> NotificationKind:
    return notification_kinds.register(key, NotificationKind(key, label, default_mode, description))


def unregister_kind(key: str) -> None:
    notification_kinds.unregister(key)


def kinds() -> list[NotificationKind]:
    """Every kind, by key (the preferences page lists them in this order)."""
    return sorted(notification_kinds.values(), key=lambda k: k.key)


def get_kind(key: str) -> NotificationKind:
    return notification_kinds.get(key) or NotificationKind(key, key)


def register_digest_section(key: str, title, provider: Callable, *, heads_only: bool = False,
                            order: int = DEFAULT_ORDER) -> DigestSection:
    return sections.register(key, DigestSection(key, title, provider, heads_only, order), order=order)


def digest_sections() -> list[DigestSection]:
    return sections.values()
