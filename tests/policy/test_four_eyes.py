"""The policy workflow's two rules from the first trial: whoever wrote a version never approves it, and
publishing notifies everyone who must acknowledge it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.auth.models import LoginAttempt
from portal.core.errors import ServiceError
from portal.esign.models import Signature
from portal.extensions import db
from portal.notify.models import Delivery, Notification
from portal.policy import services
from portal.policy.models import DRAFT
from tests.helpers import DEFAULT_PASSWORD, msg
from tests.policy.helpers import POLICY_BODY, POLICY_TITLE, publish_version

OWN = "You drafted or edited this version, so you cannot approve it. Another quality manager or an administrator must sign it."


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("who", ["author", "editor"])
def test_whoever_wrote_the_text_cannot_approve_it(org, who):
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    signer = org.quality
    if who == "editor":
        services.update_draft(org.admin, draft, POLICY_TITLE, POLICY_BODY + "（补充）")
        signer = org.admin
    with pytest.raises(ServiceError) as refused:
        services.approve_policy(signer, draft, DEFAULT_PASSWORD)
    assert str(refused.value) == msg(OWN)
    assert draft.status == DRAFT and _count(Signature) == 0
    assert _count(LoginAttempt) == 0  # refused before the password is checked: no lockout count
    assert not services.may_approve(signer, draft)
    other = org.admin if who == "author" else org.quality
    if who == "editor":  # the author edited nothing after the editor, but wrote it: still refused
        assert not services.may_approve(other, draft)
    else:
        assert services.may_approve(other, draft)
        services.approve_policy(other, draft, DEFAULT_PASSWORD)


def test_the_author_sees_why_there_is_no_approve_form(client_for, org):
    draft = services.create_draft(org.quality, POLICY_TITLE, POLICY_BODY)
    page = client_for(org.quality).get(f"/quality/policy/{draft.id}").get_data(as_text=True)
    assert 'id="approve-form"' not in page and msg(OWN) in page
    response = client_for(org.quality).post(f"/quality/policy/{draft.id}/approve", data={"password": DEFAULT_PASSWORD})
    assert response.status_code == 422 and msg(OWN) in response.get_data(as_text=True)


def test_publishing_notifies_every_active_employee_once(org):
    policy = publish_version(org.quality, org.admin)
    notes = db.session.scalars(sa.select(Notification).where(Notification.kind == services.PUBLISHED_KIND)).all()
    active = [u for u in (org.quality, org.admin, org.head_kf, org.head_ops, org.employee, org.lisi, org.wangwu)]
    assert sorted(n.recipient_id for n in notes) == sorted(u.id for u in active)
    assert org.gone.id not in {n.recipient_id for n in notes}  # deactivated: not asked
    assert all(n.link == "/quality/policy/" and str(policy.version) in n.body for n in notes)
    # the outbox rows were written in the same transaction as the publication
    assert _count(Delivery, Delivery.notification_id.in_([n.id for n in notes])) == len([u for u in active if u.email])
    # a second signal for the same version writes nothing more
    services.notify_everyone_of(policy)
    assert _count(Notification, Notification.kind == services.PUBLISHED_KIND) == len(active)
