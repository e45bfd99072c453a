"""Acknowledging the published policy (“我已阅读并理解”), once per version and user; the home page."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied, ServiceError
from portal.extensions import db
from portal.home.registry import todo_items
from portal.policy import services
from portal.policy.models import PolicyAcknowledgement
from tests.helpers import HX, assert_full_page, assert_partial, audit, flashes, msg, plain_text, text
from tests.policy.helpers import POLICY_TITLE, publish_version

BASE = "/quality/policy"
NOT_CURRENT = "Version %(version)d is not the current quality policy. Please read the current one."


def acks(policy=None, user=None) -> list[PolicyAcknowledgement]:
    stmt = sa.select(PolicyAcknowledgement)
    if policy is not None:
        stmt = stmt.where(PolicyAcknowledgement.policy_id == policy.id)
    if user is not None:
        stmt = stmt.where(PolicyAcknowledgement.user_id == user.id)
    return list(db.session.scalars(stmt))


def test_acknowledge_once_in_the_service(org, published):
    ack, created = services.acknowledge(org.employee, published)
    assert created and ack.user_id == org.employee.id and ack.policy_id == published.id
    again, created = services.acknowledge(org.employee, published)
    assert not created and again.id == ack.id
    assert len(acks(published, org.employee)) == 1
    [event] = audit("policy.acknowledge")
    assert event.actor_id == org.employee.id and event.object_id == str(published.id)
    assert event.summary["version"] == published.version


def test_a_concurrent_acknowledgement_loses_to_the_unique_constraint(org, published, monkeypatch):
    """The check found nothing, but another request inserted the row meanwhile: the unique constraint
    refuses the second row and the existing one is returned, with no second audit event."""
    services.acknowledge(org.employee, published)
    real = services.acknowledgement_of
    calls = []

    def stale_first_look(user, policy):
        calls.append(1)
        return None if len(calls) == 1 else real(user, policy)

    monkeypatch.setattr(services, "acknowledgement_of", stale_first_look)
    ack, created = services.acknowledge(org.employee, published)
    assert not created and ack is not None and len(calls) == 2
    assert len(acks(published, org.employee)) == 1 and len(audit("policy.acknowledge")) == 1
    # the transaction is still usable after the refused insert
    services.acknowledge(org.lisi, published)
    assert len(acks(published)) == 2


def test_only_the_published_version_can_be_acknowledged(org, published):
    draft = services.create_draft(org.quality, "第二版", "正文")
    with pytest.raises(ServiceError, match=re.escape(msg(NOT_CURRENT, version=2))):
        services.acknowledge(org.employee, draft)
    with pytest.raises(PermissionDenied):
        services.acknowledge(org.gone, published)
    assert acks() == []


@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_double_post_acknowledges_once(client_for, org, published, hx):
    employee = client_for(org.employee)
    headers = HX if hx else None
    page = assert_full_page(employee.get(f"{BASE}/"))
    assert POLICY_TITLE in page and 'id="acknowledge-button"' in page
    url = f"{BASE}/{published.id}/acknowledge"
    first = employee.post(url, headers=headers)
    first_page = text(employee.get(f"{BASE}/"))
    second = employee.post(url, headers=headers)
    second_page = text(employee.get(f"{BASE}/"))
    if hx:
        for response in (first, second):
            body = assert_partial(response)
            assert body.lstrip().startswith('<div id="policy-ack">') and 'id="policy-acknowledged"' in body
    else:
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == f"{BASE}/"
        # thanked once; the repeated click changes nothing and says nothing
        assert [c for c, _m in flashes(first_page)] == ["success"]
        assert flashes(second_page) == []
    assert len(acks(published, org.employee)) == 1
    assert len(audit("policy.acknowledge")) == 1
    assert 'id="policy-acknowledged"' in second_page and 'id="acknowledge-button"' not in second_page


def test_index_plain_and_htmx_and_without_a_policy(client_for, org):
    employee = client_for(org.employee)
    body = assert_full_page(employee.get(f"{BASE}/"))
    assert 'id="no-policy"' in body and 'id="policy-versions-link"' not in body
    publish_version(org.quality, org.admin)
    body = assert_partial(employee.get(f"{BASE}/", headers=HX))
    assert body.lstrip().startswith('<div id="policy-current">') and POLICY_TITLE in body
    manager = assert_full_page(client_for(org.quality).get(f"{BASE}/"))
    assert 'id="policy-versions-link"' in manager and 'id="policy-rates-link"' in manager
    head = assert_full_page(client_for(org.head_kf).get(f"{BASE}/"))
    assert 'id="policy-versions-link"' not in head and 'id="policy-rates-link"' in head


def test_acknowledging_a_superseded_version_is_refused(client_for, org, published):
    employee = client_for(org.employee)
    publish_version(org.quality, org.admin, title="第二版方针")
    response = employee.post(f"{BASE}/{published.id}/acknowledge", headers=HX)
    body = assert_partial(response, 422)
    assert msg(NOT_CURRENT, version=1) in plain_text(body)
    response = employee.post(f"{BASE}/{published.id}/acknowledge")
    assert response.status_code == 303
    assert [c for c, _m in flashes(text(employee.get(f"{BASE}/")))] == ["danger"]
    assert acks() == []


def test_a_draft_cannot_be_acknowledged_or_seen_by_employees(client_for, org, published):
    draft = services.create_draft(org.quality, "第二版", "正文")
    employee = client_for(org.employee)
    assert employee.post(f"{BASE}/{draft.id}/acknowledge").status_code == 404
    assert employee.get(f"{BASE}/{draft.id}").status_code == 404
    assert employee.post(f"{BASE}/999999/acknowledge").status_code == 404
    assert acks() == []


def policy_todos(app, user):
    """The home page's policy items for ``user`` (providers run at request time: they build URLs)."""
    with app.test_request_context("/"):
        return [i for i in todo_items(user) if i.url == f"{BASE}/"]


def test_home_todo_and_block_until_acknowledged(app, client_for, org):
    employee = client_for(org.employee)
    home = assert_full_page(employee.get("/"))
    assert 'id="home-policy"' not in home
    assert policy_todos(app, org.employee) == []

    policy = publish_version(org.quality, org.admin)
    [todo] = policy_todos(app, org.employee)
    assert POLICY_TITLE in todo.detail
    home = assert_full_page(employee.get("/"))
    assert 'id="home-policy"' in home and 'id="home-policy-read"' in home and POLICY_TITLE in home
    assert f'href="{BASE}/"' in assert_partial(employee.get("/", headers=HX))  # the todo list

    employee.post(f"{BASE}/{policy.id}/acknowledge")
    assert policy_todos(app, org.employee) == []
    home = text(employee.get("/"))
    assert 'id="home-policy"' in home and 'id="home-policy-read"' not in home

    # a new version asks again
    publish_version(org.quality, org.admin, title="第二版方针")
    assert [i.detail for i in policy_todos(app, org.employee)] == [
        msg("Version %(version)d: %(title)s", version=2, title="第二版方针")]


def test_navigation_shows_the_policy_to_everyone(client_for, org):
    page = text(client_for(org.employee).get("/"))
    assert f'href="{BASE}/"' in page


@pytest.mark.committing
def test_two_simultaneous_acknowledgements_make_one_row(app, org, published, monkeypatch):
    """A real race on PostgreSQL: both requests find no row, both insert; the unique constraint makes the
    second wait for the first and then fail, and it answers with the first one's row."""
    import threading

    from portal.org.models import User
    from portal.policy.models import QualityPolicy

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: PostgreSQL")
    db.session.commit()
    policy_id, user_id = published.id, org.employee.id
    real = services.acknowledgement_of
    barrier = threading.Barrier(2, timeout=20)
    seen = threading.local()

    def look_then_wait(user, policy):
        result = real(user, policy)
        if not getattr(seen, "looked", False):
            seen.looked = True
            barrier.wait()  # both have looked and found nothing before either inserts
        return result

    monkeypatch.setattr(services, "acknowledgement_of", look_then_wait)
    outcomes, errors = [], []

    def request():
        try:
            with app.app_context():
                ack, created = services.acknowledge(db.session.get(User, user_id), db.session.get(QualityPolicy, policy_id))
                db.session.commit()
                outcomes.append((ack.id, created))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(created for _id, created in outcomes) == [False, True]
    assert len({ack_id for ack_id, _created in outcomes}) == 1
    assert len(acks(published, org.employee)) == 1 and len(audit("policy.acknowledge")) == 1
