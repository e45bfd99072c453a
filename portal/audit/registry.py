"""What other domains tell the audit trail so that an inspector can read it (issue 8, item 6).

* action labels (``register_action_labels({"policy.approve": _l(...)})``): the words shown for each
  recorded action code; a test fails when a code that ``record()`` is called with has none;
* object types (``register_object_type(key, label, resolve=, fields=, values=)``): the label of an object
  type, a resolver ``resolve(ids) -> {id: (name, url)}`` that answers for a whole page of events in a fixed
  number of queries, the labels of the fields its before/after summaries carry, and how values of a field
  read (``values={"status": {"draft": _l("Draft")}}`` or a callable).

Each domain registers its own in its ``hooks.setup()``; the audit domain imports none of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from portal.core.registry import Registry

#: resolve(ids) -> {id: (name, url or "")}; ``ids`` are the object ids of one page, as integers
Resolver = Callable[[list[int]], Mapping[int, tuple[str, str]]]


@dataclass(frozen=True)
class ObjectType:
    key: str
    label: object
    resolve: Resolver | None = None
    fields: Mapping[str, object] = field(default_factory=dict)
    values: Mapping[str, Mapping[Any, object] | Callable[[Any], object]] = field(default_factory=dict)
    #: roles that may open the object's page (empty: everyone who reads the trail); others see the name only
    link_roles: tuple[str, ...] = ()


action_labels: Registry[object] = Registry("audit action labels")
object_types: Registry[ObjectType] = Registry("audit object types")
#: labels of fields that several object types share (before/after keys, extra keys such as "via")
common_fields: Registry[object] = Registry("audit field labels")
#: how values of those shared fields read: a mapping, a callable, or an object type's key for ids
common_values: Registry[Any] = Registry("audit value labels")


def register_action_labels(labels: Mapping[str, object]) -> None:
    for code, label in labels.items():
        action_labels.register(code, label)


def register_object_type(key: str, label, *, resolve: Resolver | None = None, fields: Mapping[str, object] | None = None,
                         values: Mapping[str, Any] | None = None, link_roles: tuple[str, ...] = ()) -> ObjectType:
    return object_types.register(key, ObjectType(key, label, resolve, dict(fields or {}), dict(values or {}),
                                                 tuple(link_roles)))


def register_field_labels(labels: Mapping[str, object], values: Mapping[str, Any] | None = None) -> None:
    """Labels (and optionally value labels) of fields that any object type's events may carry."""
    for name, label in labels.items():
        common_fields.register(name, label)
    for name, spec in (values or {}).items():
        common_values.register(name, spec)


def action_label(code: str) -> str:
    label = action_labels.get(code)
    return str(label) if label is not None else code


def object_type_label(key: str) -> str:
    entry = object_types.get(key)
    return str(entry.label) if entry else key


@dataclass(frozen=True)
class ChainCheck:
    """A record kept outside the trail that the trail vouches for (e-signatures): ``fn()`` returns
    ``(records checked, None)`` or ``(checked, "what differs")``; :func:`portal.audit.services.verify_chain`
    runs every one after the chain itself is found intact."""

    key: str
    fn: Callable[[], tuple[int, str | None]]


chain_checks: Registry[ChainCheck] = Registry("audit chain checks")


def register_chain_check(key: str, fn: Callable[[], tuple[int, str | None]]) -> ChainCheck:
    return chain_checks.register(key, ChainCheck(key, fn))
