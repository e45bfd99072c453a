"""How process changes read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.extensions import db
from portal.processes.models import Process


def _processes(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Process.id, Process.code, Process.name).where(Process.id.in_(ids)))
    return {row.id: (f"{row.code} {row.name}", url_for("processes.edit", process_id=row.id)) for row in rows}


def register() -> None:
    register_action_labels({
        "process.create": lazy_pgettext("audit action", "Created process"),
        "process.update": lazy_pgettext("audit action", "Edited process"),
        "process.activate": lazy_pgettext("audit action", "Activated process"),
        "process.deactivate": lazy_pgettext("audit action", "Deactivated process"),
    })
    register_object_type("process", lazy_pgettext("audit object", "Process"), resolve=_processes, fields={
        "code": _l("Code"), "name": _l("Name"), "description": _l("Description"),
        "parent_id": lazy_pgettext("audit field", "Parent process"), "active": _l("Active"),
        "sort_order": _l("Sort order"), "clauses": lazy_pgettext("audit field", "GB/T 19001 clauses"),
    }, values={"parent_id": "process", "active": {True: _l("Active"), False: _l("Inactive")}})
