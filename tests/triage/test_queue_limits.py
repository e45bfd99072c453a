"""The queue's reads are rate-limited per user (``@limits_reads`` with a limit shared by the list, its count badges
and a ticket's page, PORTAL_QUEUE_READ_LIMIT), like the 查询码 page's reads (tests/feedback/test_limits.py): the
limit is applied to every read route of the queue, counts them together, answers a Chinese 429 with Retry-After, and
holds one user back without holding back another."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from portal.web.ratelimit import READS_ATTR
from tests.helpers import create_department, create_user, login

QUEUE_READS = ("queue.index", "queue.counts", "queue.detail")


def test_every_read_of_the_queue_is_marked_to_count(app):
    for endpoint in QUEUE_READS:
        assert getattr(app.view_functions[endpoint], READS_ATTR, False), endpoint
    # the queue's forms are limited like every POST; they are not reads
    assert not getattr(app.view_functions["queue.reply_to_customer"], READS_ATTR, False)


@pytest.mark.committing
def test_the_queue_reads_are_limited_per_user_together(tmp_path):
    from portal.extensions import db
    from tests.web import separate_app

    with separate_app(tmp_path, create_tables=True, RATELIMIT_ENABLED=True, PORTAL_QUEUE_READ_LIMIT="3/minute",
                      RATELIMIT_KEY_PREFIX=f"test-queue-{uuid.uuid4().hex}") as limited:
        with limited.app_context():
            team = create_department("客服部")
            for username in ("kf_reader", "kf_colleague"):
                create_user(username, department=team)
            db.session.commit()
        client, other = limited.test_client(), limited.test_client()
        login(client, SimpleNamespace(username="kf_reader"))
        login(other, SimpleNamespace(username="kf_colleague"))

        # three reads of three routes use up the one shared allowance (an unknown ticket counts too)
        statuses = [client.get("/queue/").status_code, client.get("/queue/counts").status_code,
                    client.get("/queue/999999").status_code]
        assert statuses == [200, 200, 404]
        for path in ("/queue/", "/queue/counts", "/queue/999999"):
            refused = client.get(path)
            assert refused.status_code == 429, path
            assert "请稍后重试" in refused.get_data(as_text=True) and int(refused.headers["Retry-After"]) > 0
        assert other.get("/queue/").status_code == 200  # a colleague is not held back
        assert client.get("/notifications").status_code == 200  # nor the reader on other pages
