"""Demo data of the quality policy: version 1 drafted, approved with the electronic signature of the demo
quality manager (周静怡, ``quality``), published, and acknowledged by 70 % of the demo users.

Call ``seed_policy()`` after ``portal.org.demo.seed()`` (it needs the demo users). Idempotent: a second
run adds nothing. It commits, like the other seed functions.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from portal.org.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.org.models import User
from portal.policy import services
from portal.policy.models import APPROVED, DRAFT, PUBLISHED, PolicyAcknowledgement, QualityPolicy

POLICY_TITLE = "以客户为中心，规范服务，持续改进，追求卓越"
POLICY_BODY = """\
以客户为中心：客户的满意是我们工作的出发点和落脚点。我们倾听客户的声音，及时、耐心、准确地回应每一项咨询、意见和投诉，把客户体验作为衡量服务质量的首要标准。

规范服务：全体员工严格执行服务标准和操作规程，做到服务用语规范、业务办理规范、信息保密规范。每一位员工都清楚自己岗位的质量职责，按照文件化的要求开展工作，确保服务过程可追溯、结果可验证。

持续改进：我们以数据和事实为依据，通过客户反馈分析、内部审核、管理评审和纠正预防措施，持续识别问题和改进机会，不断提升服务过程的有效性和效率。

追求卓越：我们设定并定期评审可测量的质量目标，加强员工培训与能力建设，鼓励创新，努力为客户提供超越期望的服务。

本方针由最高管理者批准发布，向全体员工传达并在组织内得到理解和执行；质量管理部每年组织评审其持续适宜性。"""

#: Who never acknowledges in the demo, so the home-page reminder and the browser test have someone to show.
NEVER_ACKNOWLEDGES = {"zhangsan"}


ACKNOWLEDGED_SHARE = 0.7


def _acknowledgers(users: list[User]) -> list[User]:
    """A stable 70 % of the users: the same ones on every run, whatever order they were created in."""
    wanted = round(len(users) * ACKNOWLEDGED_SHARE)
    candidates = sorted((u for u in users if u.username not in NEVER_ACKNOWLEDGES),
                        key=lambda u: hashlib.sha256(u.username.encode()).hexdigest())
    return candidates[:wanted]


def seed_policy() -> int:
    """Create whatever of the demo quality policy is missing; return how many records were added."""
    quality = db.session.scalar(sa.select(User).where(User.username == "quality"))
    if quality is None:  # the demo organisation has not been seeded
        return 0
    created = 0
    policy = db.session.scalar(sa.select(QualityPolicy).where(QualityPolicy.version == 1))
    if policy is None:
        policy = services.create_draft(quality, POLICY_TITLE, POLICY_BODY)
        created += 1
    if policy.status == DRAFT:
        # Four eyes: the head of the quality department (also a quality manager) approves what the quality
        # manager drafted, with a real electronic signature (password re-entered, meaning 批准).
        approver = db.session.scalar(sa.select(User).where(User.username == "head_qa"))
        services.approve_policy(approver, policy, DEMO_PASSWORD)
        created += 1
    if policy.status == APPROVED:
        services.publish_policy(quality, policy)
        created += 1
    if policy.status == PUBLISHED:
        done = set(db.session.scalars(
            sa.select(PolicyAcknowledgement.user_id).where(PolicyAcknowledgement.policy_id == policy.id)))
        users = list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username)))
        for user in _acknowledgers(users):
            if user.id not in done:
                services.acknowledge(user, policy)
                created += 1
    db.session.commit()
    return created
