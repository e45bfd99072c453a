"""The audit trail as an inspector reads it: action labels, object names with links, and each change as
字段：旧值 → 新值 — for the viewer and the .xlsx export alike.

Names come from the resolvers the owning domains register (portal/audit/registry.py): one call per object
type per page, whatever the number of events, so a page costs a fixed number of queries.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from flask_babel import gettext as _

from portal.audit.models import AuditEvent
from portal.audit.registry import (ObjectType, action_label, common_fields, common_values, object_type_label,
                                   object_types)
from portal.core.parsing import parse_id


_DIGEST = re.compile(r"[0-9a-f]{32,128}")


@dataclass
class Line:
    """One readable line of an event's details: a change (``old`` → ``new``) or a plain value."""
    label: str
    old: str | None = None
    new: str | None = None
    changed: bool = False

    @property
    def verbatim(self) -> bool:
        """The values are fingerprints (hex digests), shown as code, never translated."""
        return all(v is None or _DIGEST.fullmatch(v) for v in (self.old, self.new))

    @property
    def text(self) -> str:
        if self.changed:
            return _("%(field)s: %(old)s → %(new)s", field=self.label, old=self.old, new=self.new)
        return _("%(field)s: %(value)s", field=self.label, value=self.new if self.new is not None else self.old)


@dataclass
class EventView:
    event: AuditEvent
    action: str
    object_type: str
    object_name: str
    object_url: str = ""
    lines: list[Line] = field(default_factory=list)

    @property
    def details_text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _spec(entry: ObjectType | None, key: str):
    spec = entry.values.get(key) if entry else None
    return spec if spec is not None else common_values.get(key)


def _references(entry: ObjectType | None) -> dict[str, str]:
    """The fields whose values are ids of another object type (``values={"head_id": "user"}``)."""
    specs = {name: spec for name, spec in common_values.items() if isinstance(spec, str)}
    if entry is not None:
        specs.update({name: spec for name, spec in entry.values.items() if isinstance(spec, str)})
    return specs


def _values_of(summary: dict, name: str) -> list:
    """The values ``name`` takes in a summary: before, after, and as a top-level detail."""
    found = [summary.get(name)] if name in summary and name not in ("before", "after") else []
    for side in ("before", "after"):
        if isinstance(summary.get(side), dict) and name in summary[side]:
            found.append(summary[side][name])
    return found


def present(events: Iterable[AuditEvent], viewer_roles: Iterable[str] | None = None) -> list[EventView]:
    """Readable views of ``events``; links only to pages ``viewer_roles`` may open (None: every link)."""
    events = list(events)
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        entry = object_types.get(event.object_type)
        if entry is not None and entry.resolve and (object_id := parse_id(event.object_id)):
            wanted[event.object_type].add(object_id)
        for name, target in _references(entry).items():
            for value in _values_of(event.summary or {}, name):
                if (ref := parse_id(value)) is not None:
                    wanted[target].add(ref)
    names: dict[str, dict[int, tuple[str, str]]] = {}
    for type_key, ids in wanted.items():
        entry = object_types.get(type_key)
        names[type_key] = dict(entry.resolve(sorted(ids))) if entry and entry.resolve else {}
    roles = None if viewer_roles is None else set(viewer_roles)
    return [_view(event, names, roles) for event in events]


def _view(event: AuditEvent, names: dict[str, dict[int, tuple[str, str]]], roles: set[str] | None) -> EventView:
    entry = object_types.get(event.object_type)
    object_id = parse_id(event.object_id)
    name, url = names.get(event.object_type, {}).get(object_id, ("", "")) if object_id else ("", "")
    if url and entry and entry.link_roles and roles is not None and not roles & set(entry.link_roles):
        url = ""
    if not name:
        # An object with no row of its own (an announcement) is named by the title its event recorded.
        title = (event.summary or {}).get("title")
        name = title if isinstance(title, str) and title else (event.object_id or "")
    view = EventView(event, action_label(event.action), object_type_label(event.object_type) if event.object_type else "",
                     name, url)
    summary = event.summary or {}
    before = summary.get("before") if isinstance(summary.get("before"), dict) else None
    after = summary.get("after") if isinstance(summary.get("after"), dict) else None
    for key in dict.fromkeys([*(before or {}), *(after or {})]):
        label = _field_label(entry, key)
        old = _value(entry, key, before.get(key), names) if before is not None and key in before else None
        new = _value(entry, key, after.get(key), names) if after is not None and key in after else None
        view.lines.append(Line(label, old, new, changed=before is not None and after is not None))
    for key, value in summary.items():
        if key in ("before", "after") and isinstance(value, dict):
            continue
        view.lines.append(Line(_field_label(entry, key), new=_value(entry, key, value, names)))
    return view


def _field_label(entry: ObjectType | None, key: str) -> str:
    label = (entry.fields.get(key) if entry else None) or common_fields.get(key)
    return str(label) if label is not None else key


def _value(entry: ObjectType | None, key: str, value: Any, names: dict[str, dict[int, tuple[str, str]]]) -> str:
    spec = _spec(entry, key)
    if isinstance(spec, str):  # an id of another object type
        ref = parse_id(value)
        if ref is not None and ref in names.get(spec, {}):
            return names[spec][ref][0]
    elif callable(spec):
        return str(spec(value))
    elif spec is not None:
        if isinstance(value, list):
            return "、".join(str(spec.get(v, v)) for v in value) or "—"
        if _hashable(value) and value in spec:
            return str(spec[value])
    return plain_value(value)


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def plain_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if isinstance(value, list):
        return "、".join(plain_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)
