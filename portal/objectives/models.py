"""质量目标: quality objectives (ISO 9001 clause 6.2) and their measurements, one per period."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.types import UTCDateTime, utcnow
from portal.extensions import db
from portal.org.models import Department, User
from portal.processes.models import Process  # noqa: F401  (the FK target must be in the metadata)

# Direction: the value must be at least (ge) or at most (le) the target.
GE = "ge"
LE = "le"
DIRECTION_SYMBOLS = {GE: "≥", LE: "≤"}
DIRECTION_LABELS = {GE: _l("at least (≥)"), LE: _l("at most (≤)")}

# Period of measurement; a measurement is keyed by the first day of its period.
MONTH = "month"
QUARTER = "quarter"
YEAR = "year"
PERIOD_LABELS = {MONTH: _l("Monthly"), QUARTER: _l("Quarterly"), YEAR: _l("Yearly")}
PERIODS = tuple(PERIOD_LABELS)

MANUAL = "manual"  # data source: values are entered by people

# Status of a measurement, and of an objective (its latest measurement's).
ON_TRACK = "on_track"
AT_RISK = "at_risk"
MISSED = "missed"
STATUS_LABELS = {ON_TRACK: _l("On track"), AT_RISK: _l("At risk"), MISSED: _l("Missed")}
NO_DATA = "none"  # the list filter's value for objectives without measurements

# Numeric(16, 4): twelve integer digits, four decimals — enough for rates, minutes, counts and ‰.
VALUE_TYPE = sa.Numeric(16, 4)


def format_decimal(value: Decimal | None) -> str:
    """95.0000 → "95", 0.5000 → "0.5", never in exponent notation."""
    if value is None:
        return ""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Objective(db.Model):
    """A quality objective: a metric, its target and direction, measured once per period."""

    __tablename__ = "quality_objective"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    process_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    metric_definition: Mapped[str] = mapped_column(sa.Text, default="")
    unit: Mapped[str] = mapped_column(sa.String(16), default="")
    target: Mapped[Decimal] = mapped_column(VALUE_TYPE)
    direction: Mapped[str] = mapped_column(sa.String(2), default=GE)
    period: Mapped[str] = mapped_column(sa.String(8), default=MONTH, index=True)
    #: "manual", or the key of an automatic metric in portal.objectives.registry
    data_source: Mapped[str] = mapped_column(sa.String(64), default=MANUAL, index=True)
    #: A miss by at most this percentage of the target is "at risk" rather than "missed".
    tolerance_percent: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal(5))
    active: Mapped[bool] = mapped_column(default=True, index=True)
    #: The status of the latest measurement (None without measurements). A cache for the list filter,
    #: refreshed by the services whenever a measurement, the target, direction or tolerance changes.
    current_status: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship()
    process: Mapped[Optional["Process"]] = relationship()

    @property
    def is_automatic(self) -> bool:
        return self.data_source != MANUAL

    @property
    def symbol(self) -> str:
        return DIRECTION_SYMBOLS.get(self.direction, "")

    @property
    def target_text(self) -> str:
        """e.g. "≥ 95%", "≤ 15分钟"."""
        return f"{self.symbol} {format_decimal(self.target)}{self.unit}"

    @property
    def tolerance_text(self) -> str:
        return format_decimal(self.tolerance_percent)

    def __repr__(self) -> str:
        return f"<Objective {self.id} {self.name}>"


class Measurement(db.Model):
    """The value of an objective for one period. One row per objective and period: entering a value
    again updates the row (audited), it never adds a second one."""

    __tablename__ = "quality_objective_measurement"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: indexed by the unique constraint below, whose first column it is
    objective_id: Mapped[int] = mapped_column(sa.ForeignKey("quality_objective.id"))
    #: First day of the period: the 1st of the month, of the quarter's first month, or 1 January.
    period_start: Mapped[date] = mapped_column(sa.Date)
    value: Mapped[Decimal] = mapped_column(VALUE_TYPE)
    #: None for values computed by the automatic-metrics job.
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    objective: Mapped[Objective] = relationship()
    entered_by: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("objective_id", "period_start", name="uq_quality_objective_measurement_period"),
    )

    @property
    def value_text(self) -> str:
        return format_decimal(self.value)
