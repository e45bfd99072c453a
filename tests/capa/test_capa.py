"""CAPA through the services: opening (once per source), root cause, actions, the effectiveness check on a
hand-computed CSAT fixture, and the guarded, signed closure."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.capa import services
from portal.capa.models import CHECKING, CLOSED, EFFECTIVE, INSUFFICIENT, NOT_EFFECTIVE, OPEN, Capa
from portal.core.errors import NotFound, PermissionDenied, ServiceError
from portal.core.roles import EMPLOYEE
from portal.esign.models import Signature
from portal.extensions import db
from portal.feedback import services as feedback_services
from tests.capa.helpers import give_ratings
from tests.helpers import DEFAULT_PASSWORD, audit, count

IMPLEMENTED = date(2026, 3, 2)


@pytest.fixture
def org(matrix_org, make_user):
    matrix_org.kf_member = make_user("kf_member", roles=(EMPLOYEE,), department=matrix_org.depts["KF"])
    matrix_org.point = feedback_services.create_point(matrix_org.qm, feedback_services.PointFields(
        code="KF01", name="一号窗口", location="一楼", department_id=matrix_org.depts["KF"].id, process_id=None,
        opening_hours="", categories_text=""))
    return matrix_org




def _capa(org, **fields):
    values = dict(title="一号窗口等候时间过长", problem="三月差评集中在等候时间", department_id=org.depts["KF"].id,
                  service_point_id=org.point.id)
    values.update(fields)
    return services.open_capa(org.heads["KF"], services.CapaFields(**values))


def _implemented(org, capa, day: date = IMPLEMENTED):
    """Every action done; implemented on ``day``."""
    action = services.add_action(org.heads["KF"], capa.id, description="增开弹性窗口", owner_id=org.kf_member.id,
                                 due_on=services.local_today() + timedelta(days=7))
    services.complete_action(org.kf_member, action.id, "已增开")
    capa.implemented_on, capa.check_due_on = day, day + timedelta(days=30)
    db.session.flush()
    return capa


def test_opening_once_per_source_and_by_whom(org):
    with pytest.raises(PermissionDenied):
        _capa(org, department_id=org.depts["YY"].id)  # the head of 客服部 for 运营部
    first = _capa(org, source="ticket", source_id=7)
    assert _capa(org, source="ticket", source_id=7).id == first.id
    assert count(Capa) == 1 and audit("capa.open")
    with pytest.raises(NotFound):
        services.get_capa(org.heads["YY"], first.id)


def test_the_root_cause_needs_whys_and_a_category(org):
    capa = _capa(org)
    with pytest.raises(ServiceError):
        services.set_root_cause(org.heads["KF"], capa.id, whys=[], category="method")
    with pytest.raises(ServiceError):
        services.set_root_cause(org.heads["KF"], capa.id, whys=["为何等候长？窗口少"], category="luck")
    services.set_root_cause(org.heads["KF"], capa.id, whys=["等候长", "窗口少", "排班未按客流"], category="method")
    assert capa.whys == ["等候长", "窗口少", "排班未按客流"] and capa.cause_category == "method"


def test_the_last_action_done_starts_the_wait_for_the_check(org):
    capa = _capa(org)
    a1 = services.add_action(org.heads["KF"], capa.id, description="调整排班", owner_id=org.kf_member.id,
                             due_on=services.local_today() + timedelta(days=3))
    a2 = services.add_action(org.heads["KF"], capa.id, description="增设取号提示", owner_id=org.heads["KF"].id,
                             due_on=services.local_today() + timedelta(days=5))
    with pytest.raises(PermissionDenied):
        services.complete_action(org.kf_member, a2.id)  # not the owner
    services.complete_action(org.kf_member, a1.id)
    assert capa.status == OPEN
    services.complete_action(org.heads["KF"], a2.id)
    db.session.refresh(capa)
    assert capa.status == CHECKING and capa.check_due_on == capa.implemented_on + timedelta(days=30)


def test_the_check_compares_csat_before_and_after_on_a_hand_computed_fixture(org):
    # 30 days before 03-02: 02-05 … 03-01. Ten ratings: 4 satisfied (4–5) → 40.0 %.
    give_ratings(org.point, date(2026, 2, 10), [5, 4, 2, 1, 3, 4, 2, 5, 2, 3])
    # From 03-02 for 30 days: eight ratings, 6 satisfied → 75.0 %.
    give_ratings(org.point, date(2026, 3, 10), [5, 5, 4, 4, 2, 5, 3, 4])
    # Outside both windows: not counted.
    give_ratings(org.point, date(2026, 1, 20), [1, 1, 1])
    give_ratings(org.point, date(2026, 4, 5), [1, 1, 1])
    capa = _implemented(org, _capa(org))
    services.run_check(capa, today=date(2026, 4, 1))
    assert (capa.csat_before, capa.ratings_before, capa.csat_after, capa.ratings_after) == (40.0, 10, 75.0, 8)
    assert capa.effectiveness == EFFECTIVE


def test_worse_after_is_not_effective_and_too_few_ratings_is_no_result(org):
    give_ratings(org.point, date(2026, 2, 20), [5, 5, 5, 4, 4])       # 100 %
    give_ratings(org.point, date(2026, 3, 5), [5, 2, 2, 1, 4])        # 40 %
    capa = _implemented(org, _capa(org))
    with pytest.raises(ServiceError):
        services.run_check(capa, today=date(2026, 3, 31))  # not due before 04-01
    services.run_check(capa, today=date(2026, 4, 1))
    assert capa.effectiveness == NOT_EFFECTIVE
    thin = _implemented(org, _capa(org, title="另一项", source="incident", source_id=3), day=date(2026, 6, 1))
    services.run_check(thin, today=date(2026, 7, 1))
    assert thin.effectiveness == INSUFFICIENT and thin.ratings_before == 0


def test_closing_needs_no_open_action_a_result_and_the_quality_managers_signature(org):
    capa = _capa(org)
    services.add_action(org.heads["KF"], capa.id, description="培训", owner_id=org.kf_member.id,
                        due_on=services.local_today())
    with pytest.raises(ServiceError):
        services.close(org.qm, capa.id, DEFAULT_PASSWORD)  # an open action
    done = _implemented(org, _capa(org, title="已实施", source="ticket", source_id=9))
    for action in done.actions:
        services.complete_action(org.heads["KF"], action.id)
    with pytest.raises(ServiceError):
        services.close(org.qm, done.id, DEFAULT_PASSWORD)  # no effectiveness result
    give_ratings(org.point, date(2026, 2, 20), [4, 4, 4, 4, 4])
    give_ratings(org.point, date(2026, 3, 5), [5, 5, 5, 5, 5])
    services.run_check(done, today=date(2026, 4, 1))
    with pytest.raises(PermissionDenied):
        services.close(org.heads["KF"], done.id, DEFAULT_PASSWORD)  # only a quality manager
    with pytest.raises(ServiceError):
        services.close(org.qm, done.id, "wrong")
    assert done.status == CHECKING and count(Signature, Signature.object_type == "capa") == 0
    services.close(org.qm, done.id, DEFAULT_PASSWORD)
    services.close(org.qm, done.id, DEFAULT_PASSWORD)  # again: nothing more
    assert done.status == CLOSED and count(Signature, Signature.object_type == "capa") == 1
    assert audit("capa.close", done)[0].summary["effectiveness"] == EFFECTIVE
