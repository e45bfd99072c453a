"""The feedback stream read in bulk, for the API's export: keyset pages in arrival order, filtered by time
and service point, one query per page (plus one for the point's id)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.feedback.models import Feedback, ServicePoint
from portal.org.models import Department


@dataclass
class ExportPage:
    rows: list[dict]
    next_after: int | None


def export_page(*, after_id: int | None, since: datetime | None, until: datetime | None, point_code: str | None,
                include_spam: bool, limit: int) -> ExportPage:
    stmt = (sa.select(Feedback.id, ServicePoint.code.label("service_point"), Department.name.label("department"),
                      Feedback.channel, Feedback.kind, Feedback.rating, Feedback.nps, Feedback.categories,
                      Feedback.comment, Feedback.status, Feedback.is_spam.label("spam"), Feedback.rated_at,
                      Feedback.created_at)
            .join(Department, Department.id == Feedback.department_id)
            .outerjoin(ServicePoint, ServicePoint.id == Feedback.service_point_id))
    if after_id:
        stmt = stmt.where(Feedback.id > after_id)
    if since is not None:
        stmt = stmt.where(Feedback.created_at >= since)
    if until is not None:
        stmt = stmt.where(Feedback.created_at < until)
    if point_code:
        point_id = db.session.scalar(sa.select(ServicePoint.id).where(ServicePoint.code == point_code.upper()))
        stmt = stmt.where(Feedback.service_point_id == (point_id or -1))
    if not include_spam:
        stmt = stmt.where(Feedback.is_spam.is_(False))
    rows = [dict(r._mapping) for r in db.session.execute(stmt.order_by(Feedback.id).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["categories"] = list(row["categories"] or [])
    return ExportPage(rows, rows[-1]["id"] if more and rows else None)
