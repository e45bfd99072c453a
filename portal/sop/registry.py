"""Extension points of document control, filled by the domains above it.

* document panels (``register_document_panel``): a section on a document's page, e.g. training's "who must
  read this" (培训要求). ``context(document, version, user)`` returns the panel's context, or None to hide it
  for that user; the template gets it as ``panel``. Document control imports none of its providers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from portal.core.registry import Registry


@dataclass(frozen=True)
class DocumentPanel:
    key: str
    template: str
    context: Callable[[object, object, object], "dict | None"]


document_panels: Registry[DocumentPanel] = Registry("document panels")


def register_document_panel(key: str, template: str, context, *, order: int = 100) -> DocumentPanel:
    return document_panels.register(key, DocumentPanel(key, template, context), order=order)


def panels_for(document, version, user) -> list[tuple[str, dict]]:
    """(template, context) of every panel shown to ``user`` on ``document``'s page, in order."""
    shown = []
    for panel in document_panels:
        context = panel.context(document, version, user)
        if context is not None:
            shown.append((panel.template, context))
    return shown
