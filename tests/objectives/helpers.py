"""Helpers of the objectives tests (the ones every domain uses are in tests/helpers.py)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.notify.models import Notification
from portal.objectives.models import Measurement, Objective
from tests.helpers import count

POLYLINE_RE = re.compile(r'<polyline class="sparkline-line" points="([^"]*)"')


def measurements_of(objective) -> list[Measurement]:
    return list(db.session.scalars(
        sa.select(Measurement).where(Measurement.objective_id == objective.id).order_by(Measurement.period_start)))


def db_state() -> dict[str, int]:
    """Row counts of everything the objectives code writes."""
    return {"objectives": count(Objective), "measurements": count(Measurement), "audit": count(AuditEvent),
            "notifications": count(Notification)}


def polylines(markup: str) -> list[list[str]]:
    """The points of each sparkline polyline on the page."""
    return [points.split() for points in POLYLINE_RE.findall(markup)]


def missed_notifications(user=None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.kind == "objective.missed").order_by(Notification.id)
    if user is not None:
        stmt = stmt.where(Notification.recipient_id == user.id)
    return list(db.session.scalars(stmt))
