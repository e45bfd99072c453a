"""(Being built.)"""
from __future__ import annotations


def register() -> None:
    """Register what this part contributes (called from hooks.setup())."""
