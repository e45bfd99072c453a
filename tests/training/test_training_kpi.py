"""The training completion rate (issue 11, item 9): done ÷ (done + open) of the assignments current at a period's
end, per department; a per-department metric that quality objectives measure; the matrix page's figures.

The scene (``doc`` of test_ladder, all assigned 2025-03-05): 客服部 — 客服员工 signed 03-20, the author signed
04-10; 运营部 — 王五 waived 03-25, the head still open."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core.i18n import portal_tz
from portal.extensions import db
from portal.objectives.jobs import compute_automatic_measurements
from portal.objectives.models import GE, MONTH, Measurement, Objective
from portal.objectives.registry import get_metric
from portal.training import ladder, services
from portal.training.models import OPEN, SUPERSEDED, TrainingAssignment
from tests.documents import make_effective, next_version
from tests.helpers import DEFAULT_PASSWORD
from tests.training.helpers import assignments
from tests.training.test_ladder import doc  # noqa: F401 - the fixture

MARCH, APRIL = date(2025, 3, 31), date(2025, 4, 30)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=portal_tz())


def _set(document, user, **values) -> None:
    db.session.execute(sa.update(TrainingAssignment).where(
        TrainingAssignment.document_id == document.id, TrainingAssignment.user_id == user.id,
        TrainingAssignment.current.is_(True)).values(**values))
    db.session.expire_all()


def _sign(user, document) -> None:
    [assignment] = assignments(document, user=user)
    services.mark_opened(user, assignment.id)
    assert services.sign_off(user, assignment.id, password=DEFAULT_PASSWORD, understood=True).signed


@pytest.fixture
def scene(org, doc):  # noqa: F811 - the fixture imported above
    db.session.execute(sa.update(TrainingAssignment).where(TrainingAssignment.document_id == doc.id)
                       .values(assigned_at=_at(date(2025, 3, 5))))
    _sign(org.employee, doc)
    _set(doc, org.employee, completed_at=_at(date(2025, 3, 20)))
    _sign(org.author, doc)
    _set(doc, org.author, completed_at=_at(date(2025, 4, 10)))
    [theirs] = assignments(doc, user=org.other)
    services.waive(org.heads["YY"], theirs.id, "已在原单位培训")
    _set(doc, org.other, closed_at=_at(date(2025, 3, 25)))
    return doc


def test_completion_per_department_as_of_a_period_end(org, scene):
    kf, yy = org.depts["KF"].id, org.depts["YY"].id
    assert ladder.completion_counts(MARCH, by_department=True) == {kf: (1, 1), yy: (0, 1)}
    assert ladder.completion_counts(APRIL, by_department=True) == {kf: (2, 0), yy: (0, 1)}
    assert ladder.completion_rate(date(2025, 3, 1), MARCH, kf) == 50.0
    assert ladder.completion_rate(date(2025, 4, 1), APRIL, kf) == 100.0
    assert ladder.completion_rate(date(2025, 3, 1), MARCH, yy) == 0.0
    # company-wide: the waived one does not count
    assert ladder.completion_rate(date(2025, 3, 1), MARCH) == 33.33
    assert ladder.completion_rate(date(2025, 4, 1), APRIL) == 66.67
    # before anything was assigned, and a department without assignments: no data
    assert ladder.completion_rate(date(2025, 2, 1), date(2025, 2, 28), kf) is None
    assert ladder.completion_rate(date(2025, 3, 1), MARCH, org.depts["ZH"].id) is None


def test_a_waiver_after_the_period_end_counts_as_open_then(org, scene):
    _set(scene, org.other, closed_at=_at(date(2025, 4, 2)))
    assert ladder.completion_counts(MARCH, org.depts["YY"].id) == {None: (0, 2)}
    assert ladder.completion_counts(APRIL, org.depts["YY"].id) == {None: (0, 1)}


def test_a_new_version_requiring_retraining_counts_from_when_it_was_assigned(org, scene):
    """Retraining: today everyone's new assignment is open (0 %); April's figures, when the old assignments were
    the current ones, do not change."""
    version = next_version(org.author, scene, "# 客户投诉处理规范\n\n修订后的程序。\n")
    make_effective(org.author, version)
    assert [a.status for a in assignments(scene, user=org.heads["YY"], current=False)] == [SUPERSEDED]
    assert {a.status for a in assignments(scene)} == {OPEN}
    assert ladder.completion_counts(APRIL, by_department=True) == {org.depts["KF"].id: (2, 0),
                                                                   org.depts["YY"].id: (0, 1)}
    assert ladder.completion_rate(date(2025, 4, 1), APRIL) == 66.67
    today = services.local_today()
    assert ladder.completion_rate(today, today) == 0.0
    assert ladder.completion_counts(today) == {None: (0, len(assignments(scene)))}


def test_the_matrix_page_gets_each_departments_completion(org, scene):
    rows = ladder.completion_by_department(MARCH)
    assert [(r.department_id, r.name, r.done, r.open, r.rate) for r in rows] == [
        (org.depts["KF"].id, "客服部", 1, 1, 50.0), (org.depts["YY"].id, "运营部", 0, 1, 0.0)]
    assert [r.rate for r in ladder.completion_by_department(APRIL)] == [100.0, 0.0]


def test_an_objective_of_a_department_is_measured_by_the_metric(org, scene):
    metric = get_metric(ladder.METRIC_KEY)
    assert metric is not None and metric.per_department

    def objective(dept_code: str) -> Objective:
        row = Objective(name=f"培训完成率-{dept_code}", department_id=org.depts[dept_code].id, target=Decimal("95"),
                        direction=GE, period=MONTH, tolerance_percent=Decimal("5"), unit="%",
                        data_source=ladder.METRIC_KEY, active=True, metric_definition="已完成 ÷ (已完成 + 待完成)")
        db.session.add(row)
        db.session.flush()
        return row

    kf, yy = objective("KF"), objective("YY")
    assert compute_automatic_measurements("2025-04-01") == {"recorded": 2, "skipped": 0, "failed": 0}
    values = dict(db.session.execute(sa.select(Measurement.objective_id, Measurement.value).where(
        Measurement.period_start == date(2025, 3, 1))).all())
    assert values == {kf.id: Decimal("50"), yy.id: Decimal("0")}
    assert compute_automatic_measurements("2025-05-01")["recorded"] == 2
    april = dict(db.session.execute(sa.select(Measurement.objective_id, Measurement.value).where(
        Measurement.period_start == date(2025, 4, 1))).all())
    assert april == {kf.id: Decimal("100"), yy.id: Decimal("0")}
