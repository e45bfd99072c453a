"""How CAPA events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.capa.models import CAUSE_LABELS, EFFECTIVENESS_LABELS, STATUS_LABELS, Capa
from portal.extensions import db


def _capas(ids: list[int]) -> dict[int, tuple[str, str]]:
    return {r.id: (r.title, "") for r in db.session.execute(sa.select(Capa.id, Capa.title).where(Capa.id.in_(ids)))}


def register() -> None:
    register_action_labels({
        "capa.open": lazy_pgettext("audit action", "Opened a corrective action"),
        "capa.root_cause": lazy_pgettext("audit action", "Recorded a corrective action's root cause"),
        "capa.action_add": lazy_pgettext("audit action", "Added an action to a corrective action"),
        "capa.action_done": lazy_pgettext("audit action", "Completed an action of a corrective action"),
        "capa.implemented": lazy_pgettext("audit action", "Every action of a corrective action is done"),
        "capa.check": lazy_pgettext("audit action", "Checked a corrective action's effectiveness"),
        "capa.close": lazy_pgettext("audit action", "Closed a corrective action"),
    })
    register_object_type("capa", _l("Corrective action"), resolve=_capas, fields={
        "title": _l("Title"), "status": _l("Status"), "source": lazy_pgettext("audit field", "Source"),
        "source_id": lazy_pgettext("audit field", "Source item"),
        "whys": lazy_pgettext("audit field", "Five whys"),
        "cause_category": lazy_pgettext("audit field", "Root cause category"),
        "action_id": lazy_pgettext("audit field", "Action"), "owner_id": lazy_pgettext("audit field", "Owner"),
        "due_on": lazy_pgettext("audit field", "Due by"),
        "implemented_on": lazy_pgettext("audit field", "Implemented on"),
        "check_due_on": lazy_pgettext("audit field", "Check due on"),
        "effectiveness": lazy_pgettext("audit field", "Effectiveness"),
        "csat_before": lazy_pgettext("audit field", "CSAT before (%)"),
        "csat_after": lazy_pgettext("audit field", "CSAT after (%)"),
        "ratings_before": lazy_pgettext("audit field", "Ratings before"),
        "ratings_after": lazy_pgettext("audit field", "Ratings after"),
        "signature_id": lazy_pgettext("audit field", "Signature"),
    }, values={"status": STATUS_LABELS, "cause_category": CAUSE_LABELS, "effectiveness": EFFECTIVENESS_LABELS,
               "owner_id": "user", "department_id": "department"})
