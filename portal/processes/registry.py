"""What a higher domain tells the process list without the processes domain importing it.

The responsibility matrix (raci) registers who is accountable (A) for each process: the process list shows
it, and a process is reactivated only when it has one. With no provider registered, processes have no
accountable department and reactivation asks for none.
"""
from __future__ import annotations

from typing import Callable

from portal.core.registry import Registry

#: fn(process_ids: list[int]) -> {process_id: accountable department's name}
AccountableFn = Callable[[list[int]], dict[int, str]]

accountability: Registry[AccountableFn] = Registry("process accountability")


def register_accountability(key: str, fn: AccountableFn) -> None:
    accountability.register(key, fn)


def accountable_names(process_ids: list[int]) -> dict[int, str] | None:
    """{process_id: name} from the registered provider, or None when no domain provides accountability."""
    providers = accountability.values()
    if not providers:
        return None
    names: dict[int, str] = {}
    for provider in providers:
        names.update(provider(list(process_ids)))
    return names
