"""Who may do what, endpoint by endpoint and role by role; services check again."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied
from portal.extensions import db
from portal.notify.models import Notification
from portal.policy import services
from portal.policy.models import DRAFT, PolicyAcknowledgement, QualityPolicy
from tests.helpers import DEFAULT_PASSWORD, HX
from tests.policy.helpers import POLICY_BODY, POLICY_TITLE

BASE = "/quality/policy"
ROLES = ("employee", "dept_head", "quality_manager", "admin")


def state() -> dict:
    return {
        "policies": [(p.version, p.status, p.title) for p in db.session.scalars(sa.select(QualityPolicy).order_by(QualityPolicy.id))],
        "acks": db.session.scalar(sa.select(sa.func.count()).select_from(PolicyAcknowledgement)),
        "notes": db.session.scalar(sa.select(sa.func.count()).select_from(Notification)),
    }


@pytest.fixture
def targets(org, published):
    """A published version, a draft and an approved version are not all possible at once (one is being
    prepared at a time), so each management request gets the object it needs: a draft."""
    draft = services.create_draft(org.quality, "第二版方针", POLICY_BODY)
    db.session.flush()
    return {"published": published, "draft": draft}


def actor_of(org, role: str):
    return {"employee": org.employee, "dept_head": org.head_kf, "quality_manager": org.quality, "admin": org.admin}[role]


# (method, url template, data, expected status per role: employee, dept_head, quality_manager, admin)
MATRIX = [
    ("GET", "/", None, (200, 200, 200, 200)),
    ("GET", "/{published}", None, (200, 200, 200, 200)),
    ("POST", "/{published}/acknowledge", None, (303, 303, 303, 303)),
    ("GET", "/acknowledgements", None, (403, 200, 200, 200)),
    ("GET", "/acknowledgements/{kf}", None, (403, 200, 200, 200)),
    ("GET", "/acknowledgements/{ops}", None, (403, 404, 200, 200)),
    ("POST", "/acknowledgements/{kf}/remind", None, (403, 303, 303, 303)),
    ("POST", "/acknowledgements/{ops}/remind", None, (403, 404, 303, 303)),
    ("GET", "/versions", None, (403, 403, 200, 200)),
    ("GET", "/new", None, (403, 403, 200, 200)),
    ("POST", "/new", {"title": "越权草稿", "body": "正文"}, (403, 403, 422, 422)),  # 422: a draft is open
    ("GET", "/{draft}", None, (404, 404, 200, 200)),
    ("GET", "/{draft}/edit", None, (403, 403, 200, 200)),
    ("POST", "/{draft}/edit", {"title": "越权修改", "body": "正文"}, (403, 403, 303, 303)),
    # 422 for managers: each has just edited the draft, and whoever wrote the text never approves it (four eyes)
    ("POST", "/{draft}/approve", {"password": DEFAULT_PASSWORD}, (403, 403, 422, 422)),
    ("POST", "/{draft}/publish", None, (403, 403, 303, 303)),
]

def _url(template: str, org, targets) -> str:
    return BASE + template.format(published=targets["published"].id, draft=targets["draft"].id,
                                  kf=org.kf.id, ops=org.ops.id)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("hx", [False, True], ids=["plain", "htmx"])
def test_every_endpoint_for_every_role(client_for, org, targets, role, hx, drain_queue):
    client = client_for(actor_of(org, role))
    for method, template, data, expected in MATRIX:
        url = _url(template, org, targets)
        before = state()
        response = client.get(url, headers=HX if hx else None) if method == "GET" else client.post(
            url, data=data or {}, headers=HX if hx else None)
        want = expected[ROLES.index(role)]
        if hx and want == 303:
            want = (204, 200)  # HX-Redirect, or the re-rendered fragment (acknowledge, remind)
        assert response.status_code in (want if isinstance(want, tuple) else (want,)), (role, method, url, response.status_code)
        if response.status_code in (403, 404):
            assert f'data-status="{response.status_code}"' in response.get_data(as_text=True)
            assert state() == before, (role, method, url)  # a refusal changes nothing
        if hx and response.status_code in (200, 403, 404, 422):
            assert "<html" not in response.get_data(as_text=True)
    draft = db.session.get(QualityPolicy, targets["draft"].id)
    if role in ("employee", "dept_head"):
        assert (draft.status, draft.title) == (DRAFT, "第二版方针")


def test_anonymous_is_sent_to_login_everywhere(client, org, targets):
    for method, template, data, _expected in MATRIX:
        url = _url(template, org, targets)
        response = client.get(url) if method == "GET" else client.post(url, data=data or {})
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), (method, url)
        hx = {**HX, "HX-Current-URL": f"http://localhost{url}"}
        response = client.get(url, headers=hx) if method == "GET" else client.post(url, data=data or {}, headers=hx)
        assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login"), (method, url)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyAcknowledgement)) == 0


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_services_refuse_non_managers(org, targets, role):
    actor = actor_of(org, role)
    draft = targets["draft"]
    calls = [
        lambda: services.list_versions(actor),
        lambda: services.draft_defaults(actor),
        lambda: services.create_draft(actor, POLICY_TITLE, POLICY_BODY),
        lambda: services.update_draft(actor, draft, "越权", "越权"),
        lambda: services.approve_policy(actor, draft, DEFAULT_PASSWORD),
        lambda: services.publish_policy(actor, draft),
        lambda: services.get_managed_policy(actor, draft.id),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert draft.status == DRAFT and draft.approved_signature_id is None


def test_services_refuse_anonymous(org, targets):
    from flask_login import AnonymousUserMixin

    anonymous = AnonymousUserMixin()
    with pytest.raises(PermissionDenied):
        services.approve_policy(anonymous, targets["draft"], DEFAULT_PASSWORD)
    with pytest.raises(PermissionDenied):
        services.acknowledge(anonymous, targets["published"])
    with pytest.raises(PermissionDenied):
        services.acknowledgement_rates(anonymous, targets["published"])
