"""Helpers of the CAPA tests."""
from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa

from portal.core.i18n import portal_tz
from portal.extensions import db
from portal.feedback import services as feedback_services
from portal.feedback.models import Feedback


def give_ratings(point, day: date, ratings: list[int]) -> None:
    """Ratings given on ``day`` at ``point`` (through the intake, then dated back)."""
    for i, rating in enumerate(ratings):
        received = feedback_services.receive(
            feedback_services.Submission(rating=rating),
            feedback_services.Intake(channel="kiosk", idempotency_key=f"{day}-{i}-{rating}", point=point))
        moment = datetime.combine(day, time(10, i % 50), portal_tz())
        db.session.execute(sa.update(Feedback).where(Feedback.id == received.feedback.id)
                           .values(rated_at=moment, created_at=moment))
