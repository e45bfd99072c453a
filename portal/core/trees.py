"""Helpers for self-referencing trees (departments, processes)."""
from __future__ import annotations


def would_cycle(node, new_parent) -> bool:
    """Whether placing ``node`` under ``new_parent`` makes a loop: the parent is the node or one of its
    descendants. Both have ``id`` and ``parent``."""
    current = new_parent
    while current is not None:
        if current.id == node.id:
            return True
        current = current.parent
    return False
