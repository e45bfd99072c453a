"""Helpers of the quality policy tests: the policy text and a published version."""
from __future__ import annotations

from portal.extensions import db
from portal.policy import services
from tests.helpers import DEFAULT_PASSWORD

POLICY_TITLE = "以客户为中心，规范服务，持续改进，追求卓越"
POLICY_BODY = "客户满意是我们工作的出发点。\n每一位员工都清楚自己的质量职责。\n\n我们依据数据持续改进。"


def publish_version(author, approver, title: str = POLICY_TITLE, body: str = POLICY_BODY):
    """Draft (by ``author``), approve (with ``approver``'s signature: never the author) and publish a version
    through the services."""
    policy = services.create_draft(author, title, body)
    services.approve_policy(approver, policy, DEFAULT_PASSWORD)
    services.publish_policy(author, policy)
    db.session.flush()
    return policy
