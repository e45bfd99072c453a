"""Registries filled by the domains that own the data.

* kinds of notification (``register_kind``): their label and default delivery mode;
* digest sections (``register_digest_section``): a provider that, for a *batch* of users, returns each
  user's items. Providers must run a fixed number of queries per batch, never one per user;
* email sources (``register_email_source``): for an email to an address that is no portal user's (a customer's,
  ``services.email_address``), a function writing the message at send time from the id the outbox row keeps,
  so that the outbox holds the address and that id, not the message.
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


@dataclass(frozen=True)
class AddressedEmail:
    """What an email source writes: the subject and both bodies (see ``mail.render_email``)."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class EmailSource:
    key: str
    #: render(source_id) -> AddressedEmail, or None when the source is gone (the email is then never sent).
    #: Called by the delivery worker, inside the app, under the portal's default locale.
    render: Callable


notification_kinds: Registry[NotificationKind] = Registry("notification kinds")
sections: Registry[DigestSection] = Registry("digest sections")
email_sources: Registry[EmailSource] = Registry("email sources")


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


def register_email_source(key: str, render: Callable) -> EmailSource:
    return email_sources.register(key, EmailSource(key, render))


def get_email_source(key: str) -> EmailSource | None:
    return email_sources.get(key)
