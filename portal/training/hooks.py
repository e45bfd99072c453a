"""What training plugs in: its pages, the reactions to document_effective, user_joined, user_moved,
user_deactivated and matrix_changed, the notification kinds, digest sections, to-dos, jobs, metrics, the panel
on the document page and the demo data."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import signals
from portal.notify.registry import register_kind
from portal.training import bp, ladder, matrix, qualifications, services, sessions

BLUEPRINTS = (bp,)


def setup() -> None:
    register_kind(services.KIND_ASSIGNED, _l("Trainings assigned to me"))
    signals.document_effective.connect(services.on_document_effective)
    signals.user_joined.connect(services.on_user_joined)
    signals.user_moved.connect(services.on_user_moved)
    signals.user_deactivated.connect(services.on_user_deactivated)
    signals.matrix_changed.connect(services.on_matrix_changed)
    for part in (matrix, sessions, qualifications, ladder):
        part.register()
