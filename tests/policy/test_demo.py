"""The demo quality policy: published, signed by the demo quality manager, acknowledged by about 70 %."""
from __future__ import annotations

import sqlalchemy as sa

from portal.org.demo import seed
from portal.esign.models import Signature
from portal.esign.services import content_hash
from portal.extensions import db
from portal.org.models import User
from portal.policy.demo import POLICY_TITLE, seed_policy
from portal.policy.models import PUBLISHED, PolicyAcknowledgement, QualityPolicy


def test_seed_policy_is_idempotent_and_realistic():
    assert seed_policy() == 0  # no demo organisation yet: nothing to do
    seed()
    created = seed_policy()
    policy = db.session.scalar(sa.select(QualityPolicy))
    assert (policy.version, policy.status, policy.title) == (1, PUBLISHED, POLICY_TITLE)
    signature = db.session.get(Signature, policy.approved_signature_id)
    quality = db.session.scalar(sa.select(User).where(User.username == "quality"))
    head_qa = db.session.scalar(sa.select(User).where(User.username == "head_qa"))
    # four eyes: the quality manager drafted it, the head of the quality department signed it
    assert policy.created_by_id == quality.id
    assert signature.signer_id == head_qa.id and signature.meaning == "approve"
    assert signature.content_sha256 == content_hash(policy.title, policy.body)
    assert policy.published_by_id == quality.id and "\n\n" in policy.body

    acked = set(db.session.scalars(sa.select(PolicyAcknowledgement.user_id)))
    active = list(db.session.scalars(sa.select(User).where(User.active.is_(True))))
    assert len(acked) == round(len(active) * 0.7)
    assert db.session.scalar(sa.select(User.id).where(User.username == "zhangsan")) not in acked
    assert created == 3 + len(acked)

    assert seed_policy() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QualityPolicy)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyAcknowledgement)) == len(acked)
