"""Registries filled by the domains that own the data.

* kinds of notification (``register_kind``): their label and default delivery mode;
* digest sections (``register_digest_section``): a provider that, for a *batch* of users, returns each
  user's items. Providers must run a fixed number of queries per batch, never one per user.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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
    order: int = 100
    items: list = field(default_factory=list)


_kinds: dict[str, NotificationKind] = {}
_sections: dict[str, DigestSection] = {}


def register_kind(key: str, label, default_mode: str = INSTANT, description="") -> NotificationKind:
    kind = NotificationKind(key, label, default_mode, description)
    _kinds[key] = kind
    return kind


def kinds() -> list[NotificationKind]:
    return sorted(_kinds.values(), key=lambda k: k.key)


def get_kind(key: str) -> NotificationKind:
    return _kinds.get(key) or NotificationKind(key, key)


def register_digest_section(key: str, title, provider: Callable, *, heads_only: bool = False, order: int = 100) -> None:
    _sections[key] = DigestSection(key, title, provider, heads_only, order)


def digest_sections() -> list[DigestSection]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))
