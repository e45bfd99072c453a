"""Choices for the document forms and filters, read through the owning domains' services."""
from __future__ import annotations

from portal.org.services import active_users, department_tree
from portal.processes.services import list_processes


def departments():
    return [d for d, _depth in department_tree(include_inactive=False)]


def processes():
    return list_processes(active=True)


def department_choices(only_id: int | None = None) -> list[tuple[int, str]]:
    """Active departments (just ``only_id`` when given: someone registering for their own department)."""
    return [(d.id, d.name) for d in departments() if only_id is None or d.id == only_id]


def process_choices() -> list[tuple[int, str]]:
    return [(p.id, p.label) for p in processes()]


def user_choices() -> list[tuple[int, str]]:
    return [(u.id, f"{u.display_name}（{u.username}）") for u in active_users()]
