"""Helpers of the training tests."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.training.models import TrainingAssignment


def assignments(document=None, *, user=None, current: bool | None = True, status: str | None = None):
    """The assignments of ``document`` (and/or ``user``), current ones by default, by id."""
    query = sa.select(TrainingAssignment).order_by(TrainingAssignment.id)
    if document is not None:
        query = query.where(TrainingAssignment.document_id == document.id)
    if user is not None:
        query = query.where(TrainingAssignment.user_id == user.id)
    if current is not None:
        query = query.where(TrainingAssignment.current.is_(current))
    if status is not None:
        query = query.where(TrainingAssignment.status == status)
    db.session.expire_all()
    return list(db.session.scalars(query))


def assigned_user_ids(document, **kwargs) -> set[int]:
    return {a.user_id for a in assignments(document, **kwargs)}
