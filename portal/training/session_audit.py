"""How classroom-session events read in the audit trail (registered from ``sessions.register()``)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_object_type
from portal.core.i18n import local_datetime
from portal.extensions import db
from portal.org.models import User
from portal.training.models import SessionAttendee, TrainingSession


def _sessions(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(TrainingSession.id, TrainingSession.topic, TrainingSession.starts_at)
                              .where(TrainingSession.id.in_(ids)))
    return {r.id: (f"{r.topic} · {local_datetime(r.starts_at, 'yyyy-MM-dd')}",
                   url_for("training.session_detail", session_id=r.id)) for r in rows}


def _attendees(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(SessionAttendee.id, SessionAttendee.session_id, User.display_name,
                                        TrainingSession.topic)
                              .join(User, User.id == SessionAttendee.user_id)
                              .join(TrainingSession, TrainingSession.id == SessionAttendee.session_id)
                              .where(SessionAttendee.id.in_(ids)))
    return {r.id: (f"{r.topic} · {r.display_name}", url_for("training.session_detail", session_id=r.session_id))
            for r in rows}


def register() -> None:
    register_action_labels({
        "training.session_create": lazy_pgettext("audit action", "Organised a classroom session"),
        "training.session_update": lazy_pgettext("audit action", "Edited a classroom session"),
        "training.session_sign": lazy_pgettext("audit action", "Signed attendees in to a classroom session"),
    })
    # The trainer's signatures (培训签到) are on the attendees.
    register_object_type("training_session_attendee", _l("Attendance at a classroom session"), resolve=_attendees)
    register_object_type("training_session", _l("Classroom session"), resolve=_sessions, fields={
        "topic": lazy_pgettext("audit field", "Topic"),
        "trainer_id": lazy_pgettext("audit field", "Trainer"),
        "department_id": lazy_pgettext("audit field", "Department"),
        "starts_at": lazy_pgettext("audit field", "Starts"),
        "ends_at": lazy_pgettext("audit field", "Ends"),
        "place": lazy_pgettext("audit field", "Place"),
        "notes": lazy_pgettext("audit field", "Notes"),
        "documents": lazy_pgettext("audit field", "Documents taught"),
        "attendees": lazy_pgettext("audit field", "Attendees"),
        "count": lazy_pgettext("audit field", "People signed in"),
        "assignments_completed": lazy_pgettext("audit field", "Trainings completed"),
        "assignment_ids": lazy_pgettext("audit field", "Assignments completed"),
    }, values={"trainer_id": "user", "department_id": "department"})
