from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db


class CalendarOverride(db.Model):
    """A day whose working status the administrator sets by hand: a year the calendar library does not
    know yet, a local holiday, an extra working day. Overrides win over the library."""

    __tablename__ = "calendar_override"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    is_workday: Mapped[bool]
    note: Mapped[str] = mapped_column(sa.String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarYear(db.Model):
    """A year whose statutory holidays and make-up workdays an administrator has entered (the State
    Council's notice) as overrides: the year counts as covered although the library does not know it."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(sa.String(16), default="form")  # form | upload
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
