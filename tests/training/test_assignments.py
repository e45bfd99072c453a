"""Who gets an assignment, and when: the matrix's R departments, the rules on the document page, the
retraining decision, new people, moves, deactivation and matrix changes."""
from __future__ import annotations

from portal.core.roles import ADMIN, EMPLOYEE
from portal.extensions import db
from portal.org import services as org_services
from portal.org.models import Position
from portal.raci import services as raci_services
from portal.training import services
from portal.training.models import (ADD_POSITION, ADD_USER, DONE, EXCLUDE_POSITION, NOT_APPLICABLE, OPEN,
                                    SUPERSEDED)
from tests.documents import effective_document, make_effective, next_version
from tests.helpers import DEFAULT_PASSWORD, audit
from tests.training.helpers import assigned_user_ids, assignments


def _members(org, *codes):
    from portal.org.models import User
    import sqlalchemy as sa

    dept_ids = [org.depts[c].id for c in codes]
    return set(db.session.scalars(sa.select(User.id).where(User.department_id.in_(dept_ids), User.active.is_(True))))


def test_an_effective_version_assigns_exactly_the_r_departments(org):
    document = effective_document(org.author, org)  # T-03: A 客服部, R 运营部, C 质量管理部
    assert assigned_user_ids(document) == _members(org, "YY")
    assert not assigned_user_ids(document) & _members(org, "KF", "ZL", "ZH")
    a = assignments(document, user=org.other)[0]
    assert a.status == OPEN and a.version_id == document.current_version_id
    assert (a.due_on - a.assigned_at.date()).days in (13, 14, 15)  # 14 days in Shanghai
    event = audit("training.assign")[-1]
    assert event is not None and event.summary["count"] == len(_members(org, "YY"))


def test_rules_add_positions_and_people_and_exclude_positions(org, make_user):
    teller = Position(department_id=org.depts["YY"].id, name="柜员")
    guard = Position(department_id=org.depts["ZH"].id, name="保安")
    db.session.add_all([teller, guard])
    db.session.flush()
    yy_teller = make_user("yy_teller", roles=(EMPLOYEE,), department=org.depts["YY"])
    yy_teller.position_id = teller.id
    zh_guard = make_user("zh_guard", roles=(EMPLOYEE,), department=org.depts["ZH"])
    zh_guard.position_id = guard.id
    outsider = make_user("zh_other", roles=(EMPLOYEE,), department=org.depts["ZH"])
    db.session.flush()
    document = effective_document(org.author, org)
    assert yy_teller.id in assigned_user_ids(document)

    services.add_rule(org.qm, document.id, EXCLUDE_POSITION, position_id=teller.id)
    services.add_rule(org.qm, document.id, ADD_POSITION, position_id=guard.id)
    services.add_rule(org.qm, document.id, ADD_USER, user_id=outsider.id)
    expected = (_members(org, "YY") - {yy_teller.id}) | {zh_guard.id, outsider.id}
    assert services.required_user_ids(document) == expected
    # The excluded teller's open assignment closed as not applicable; the added people were assigned at once.
    assert assignments(document, user=yy_teller)[0].status == NOT_APPLICABLE
    assert {a.user_id for a in assignments(document, status=OPEN)} == expected
    # A double click adds no second rule.
    services.add_rule(org.qm, document.id, ADD_USER, user_id=outsider.id)
    assert len(services.rules_of(document.id)) == 3

    # Removing the exclusion reopens the teller's assignment.
    rule = next(r for r in services.rules_of(document.id) if r.kind == EXCLUDE_POSITION)
    services.remove_rule(org.qm, document.id, rule.id)
    assert assignments(document, user=yy_teller)[0].status == OPEN


def test_only_managers_and_the_owning_head_edit_rules(org):
    import pytest

    from portal.core.errors import PermissionDenied

    document = effective_document(org.author, org)
    for user in (org.employee, org.heads["YY"], org.author):
        with pytest.raises(PermissionDenied):
            services.add_rule(user, document.id, ADD_USER, user_id=org.zh_member.id)
    services.add_rule(org.heads["KF"], document.id, ADD_USER, user_id=org.zh_member.id)
    assert org.zh_member.id in assigned_user_ids(document)


def test_no_retraining_needed_creates_none_and_records_why(org):
    document = effective_document(org.author, org)
    first = assignments(document, user=org.other)[0]
    services.mark_opened(org.other, first.id)
    services.sign_off(org.other, first.id, password=DEFAULT_PASSWORD, understood=True)
    before = {a.id: a.status for a in assignments(document, current=None)}

    version = next_version(org.author, document, "# 客户投诉处理规范\n\n错别字修改。")
    make_effective(org.author, version, retraining=False, reason="只改了错别字")
    after = assignments(document, current=None)
    assert {a.id for a in after} == set(before)  # not one new assignment
    event = audit("training.no_retraining")[-1]
    assert event.summary["reason"] == "只改了错别字"
    # Open assignments moved to the new version; the signed one stays with the version that was signed.
    assert all(a.version_id == version.id for a in after if a.status == OPEN)
    assert db.session.get(type(first), first.id).version_id == first.version_id


def test_retraining_supersedes_open_assignments_and_keeps_the_record(org):
    document = effective_document(org.author, org)
    signed = assignments(document, user=org.other)[0]
    services.mark_opened(org.other, signed.id)
    services.sign_off(org.other, signed.id, password=DEFAULT_PASSWORD, understood=True)
    unsigned = assignments(document, user=org.heads["YY"])[0]

    version = next_version(org.author, document, "# 客户投诉处理规范\n\n新的退款流程。")
    make_effective(org.author, version)
    db.session.expire_all()
    assert db.session.get(type(signed), signed.id).status == DONE  # the record stays
    assert db.session.get(type(signed), signed.id).current is False
    assert db.session.get(type(unsigned), unsigned.id).status == SUPERSEDED
    current = assignments(document)
    assert {a.version_id for a in current} == {version.id}
    assert {a.user_id for a in current} == _members(org, "YY")


def test_deactivated_people_get_none_and_lose_their_open_ones(org, make_user):
    leaver = make_user("leaver", roles=(EMPLOYEE,), department=org.depts["YY"])
    gone = make_user("gone", roles=(EMPLOYEE,), department=org.depts["YY"], active=False)
    admin = make_user("admin_t", roles=(ADMIN,), department=org.depts["ZH"])
    document = effective_document(org.author, org)
    assert gone.id not in assigned_user_ids(document)
    org_services.set_user_active(admin, leaver, False)
    a = assignments(document, user=leaver)[0]
    assert a.status == NOT_APPLICABLE and a.closed_reason


def test_a_move_assigns_the_new_departments_documents_and_keeps_completed_records(org, make_user):
    admin = make_user("admin_t", roles=(ADMIN,), department=org.depts["ZH"])
    complaints = effective_document(org.author, org)  # T-03: R 运营部
    records = effective_document(org.qm, org, process="T-02", dept="ZL", title="文件控制程序")  # T-02: R 综合办公室
    mover = org.other  # 运营部
    signed = assignments(complaints, user=mover)[0]
    services.mark_opened(mover, signed.id)
    services.sign_off(mover, signed.id, password=DEFAULT_PASSWORD, understood=True)
    assert assignments(records, user=mover) == []

    data = org_services.UserData(mover.username, mover.display_name, mover.email, org.depts["ZH"].id, None,
                                 tuple(mover.roles))
    org_services.update_user(admin, mover, data)  # to 综合办公室: R for T-02 only
    assert [a.status for a in assignments(records, user=mover)] == [OPEN]
    assert [a.status for a in assignments(complaints, user=mover)] == [DONE]  # the completed record is intact

    data = org_services.UserData(mover.username, mover.display_name, mover.email, org.depts["YY"].id, None,
                                 tuple(mover.roles))
    org_services.update_user(admin, mover, data)  # back to 运营部
    assert [a.status for a in assignments(records, user=mover)] == [NOT_APPLICABLE]
    assert [a.status for a in assignments(complaints, user=mover)] == [DONE]  # already trained on this version


def test_a_move_away_closes_open_ones_as_not_applicable(org, make_user):
    admin = make_user("admin_t", roles=(ADMIN,), department=org.depts["ZH"])
    document = effective_document(org.author, org)
    mover = org.other  # 运营部
    data = org_services.UserData(mover.username, mover.display_name, mover.email, org.depts["ZH"].id, None,
                                 tuple(mover.roles))
    org_services.update_user(admin, mover, data)
    assert assignments(document, user=mover)[0].status == NOT_APPLICABLE


def test_a_new_hire_gets_every_document_that_applies(org, make_user):
    admin = make_user("admin_t", roles=(ADMIN,), department=org.depts["ZH"])
    document = effective_document(org.author, org)
    user, _temp = org_services.create_user(admin, org_services.UserData(
        "new_hire", "新员工", "new@example.cn", org.depts["YY"].id, None, (EMPLOYEE,)))
    assert [a.status for a in assignments(document, user=user)] == [OPEN]


def test_a_department_becoming_r_is_assigned_and_one_leaving_is_closed(org):
    document = effective_document(org.author, org)  # T-03
    process = org.procs["T-03"]
    raci_services.set_cell(org.qm, process.id, org.depts["ZH"].id, "R")
    assert org.zh_member.id in assigned_user_ids(document, status=OPEN)
    raci_services.set_cell(org.qm, process.id, org.depts["YY"].id, "I")
    assert assignments(document, user=org.other)[0].status == NOT_APPLICABLE


def test_types_that_are_not_trained_create_nothing(org):
    document = effective_document(org.author, org, doc_type="form", title="投诉登记表")
    assert assignments(document) == []
    services.save_type_setting(org.qm, "form", enabled=True, due_days=5, require_password=False)
    other = effective_document(org.author, org, doc_type="form", title="退款申请表")
    due = {(a.due_on - a.assigned_at.date()).days for a in assignments(other)}
    assert assignments(other) and due <= {4, 5, 6}
