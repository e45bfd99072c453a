"""What training plugs in: its pages, the reactions to document_effective, user_joined, user_moved,
user_deactivated and matrix_changed, the notification kinds, digest sections, to-dos, jobs, metrics, the panel
on the document page and the demo data."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import signals
from portal.notify.registry import register_kind
from portal.sop.registry import register_document_panel
from portal.core.registry import register_demo_seeder
from portal.training import audit_trail, bp, demo, ladder, matrix, pages, qualifications, services, sessions
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Training"), "training.index"), order=27)
    register_kind(services.KIND_ASSIGNED, _l("Trainings assigned to me"))
    register_document_panel("training.requirements", "training/_partials/_document_panel.html", pages.document_panel,
                            order=50)
    signals.document_effective.connect(services.on_document_effective)
    signals.user_joined.connect(services.on_user_joined)
    signals.user_moved.connect(services.on_user_moved)
    signals.user_deactivated.connect(services.on_user_deactivated)
    signals.matrix_changed.connect(services.on_matrix_changed)
    register_demo_seeder("training", demo.seed_training, order=60)
    for part in (matrix, sessions, qualifications, ladder):
        part.register()
