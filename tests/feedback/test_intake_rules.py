"""The rules of intake, in the service and through the kiosk: what is kept, flagged, refused and announced."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import signals
from portal.core.errors import ServiceError
from portal.core.types import utcnow
from portal.extensions import db
from portal.feedback import codes, services
from portal.notify.models import Notification
from tests.feedback.helpers import feedback_count, kiosk_path, make_point, open_form, receive, received
from tests.helpers import HX, create_department, create_user, text


@pytest.fixture
def head():
    return create_user("fb_head")


@pytest.fixture
def point(head):
    return make_point("RL01", create_department(name="规则测试部", head=head), categories="服务态度\n等候时间")


def _notes(user) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.recipient_id == user.id)))


def test_a_negative_rating_notifies_the_head_once_and_a_good_one_does_not(point, head):
    receive(point, rating=5, key="good")
    assert _notes(head) == []
    first = receive(point, rating=1, comment="太慢了", key="bad")
    again = receive(point, rating=1, comment="太慢了", key="bad")
    assert first.created and not again.created and again.feedback.id == first.feedback.id
    [note] = _notes(head)
    assert note.kind == services.KIND_NEGATIVE and "非常不满意" in note.title and note.body == "太慢了"


def test_spam_is_kept_but_announces_nothing(point, head):
    result = services.receive(services.Submission(rating=1, comment="x"), services.Intake(
        channel="kiosk", idempotency_key="spam", point=point, spam_reasons=("honeypot",)))
    assert result.feedback.is_spam and _notes(head) == []


def test_the_signal_carries_the_point_inside_the_transaction(point):
    seen = []

    def subscriber(sender, **kwargs):
        seen.append((sender.id, kwargs["service_point"].code, kwargs["actor"]))

    signals.feedback_received.connect(subscriber)
    try:
        item = receive(point, rating=4).feedback
    finally:
        signals.feedback_received.disconnect(subscriber)
    assert seen == [(item.id, "RL01", None)]


def test_links_and_repeats_are_flagged_as_spam(point):
    links = receive(point, comment="看这里 http://a.example 和 https://b.example", key="l").feedback
    assert links.is_spam and "links" in links.spam_reasons
    intake = lambda key: services.Intake(channel="kiosk", idempotency_key=key, point=point, source_ip="10.1.1.1")  # noqa: E731
    first = services.receive(services.Submission(rating=1, comment="一模一样的内容"), intake("r1")).feedback
    second = services.receive(services.Submission(rating=1, comment="一模一样的内容"), intake("r2")).feedback
    assert not first.is_spam and second.is_spam and second.spam_reasons == "repeat"
    assert first.source_hash and "10.1.1.1" not in first.source_hash  # the address itself is never stored


def test_refusals_are_field_errors_in_chinese(point):
    cases = [
        (dict(rating=None), "rating"), (dict(rating=7), "rating"), (dict(nps=11), "nps"),
        (dict(comment="长" * 501), "comment"), (dict(categories=["不存在的分类"]), "categories"),
        (dict(contact="12345", consent=True), "contact"), (dict(contact="a@b", consent=True), "contact"),
    ]
    for change, field in cases:
        values = dict(rating=4) | change
        with pytest.raises(ServiceError) as raised:
            services.receive(services.Submission(**values), services.Intake(
                channel="kiosk", idempotency_key=f"x{field}{len(str(change))}", point=point))
        assert field in [f for f, _m in raised.value.errors], change
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(raised.value)), str(raised.value)
    assert feedback_count() == 0


def test_a_stale_form_is_kept_and_flagged(app, client, point):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 8 * 24 * 3600  # older than the 7 days allowed by default

    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="portal-kiosk-form", signer=EightDaysAgo)
    fields = open_form(client, kiosk_path(point)) | {"form_token": old.dumps({"c": "RL01", "n": "left-open-a-week"})}
    response = client.post(kiosk_path(point), data={**fields, "rating": "3", "comment": "放了很久的表单"}, csrf=False)
    assert response.status_code == 200
    row = received("放了很久的表单")
    assert row.is_spam and row.spam_reasons == "stale_form"
    assert row.idempotency_key == "kiosk:left-open-a-week"


def test_an_offline_tablet_keeps_the_time_of_the_rating_within_bounds(client, point):
    fields = open_form(client, kiosk_path(point) + "?kiosk=1")
    rated = utcnow() - timedelta(seconds=30)
    client.post(kiosk_path(point) + "?kiosk=1", data={**fields, "rating": "5", "comment": "离线评价",
                                                      "rated_at": str(int(rated.timestamp() * 1000))}, csrf=False)
    row = received("离线评价")
    assert row.channel == "tablet" and abs((row.rated_at - rated).total_seconds()) < 1
    fields = open_form(client, kiosk_path(point))
    client.post(kiosk_path(point), data={**fields, "rating": "5", "comment": "时间不对", "rated_at": "99999999999999"},
                csrf=False)
    row = received("时间不对")
    assert row.rated_at == row.created_at  # a time outside the form's life is not believed


def test_the_tablet_page_carries_spare_tokens_for_offline_ratings(client, point):
    import json
    import re

    html = text(client.get(kiosk_path(point) + "?kiosk=1"))
    spares = json.loads(re.search(r'data-spare-tokens="([^"]+)"', html).group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert len(spares) == 10 and len(set(spares)) == 10
    for token in spares:
        nonce, _issued, stale = codes.read_form_token(token, "RL01", 3600)
        assert nonce and not stale
    assert 'id="offline-thanks"' in html


def test_a_body_over_the_limit_is_a_chinese_413_page(client, point):
    fields = open_form(client, kiosk_path(point))
    response = client.post(kiosk_path(point), data={**fields, "rating": "5", "comment": "长" * 20000}, csrf=False)
    assert response.status_code == 413 and "过长" in text(response)
    assert feedback_count() == 0


def test_the_digest_tells_heads_and_quality_managers_about_yesterday(point, head):
    from portal.core.roles import QUALITY_MANAGER
    from portal.core.i18n import portal_tz

    qm = create_user("fb_qm", roles=(QUALITY_MANAGER,))
    employee = create_user("fb_emp")
    for rating in (5, 1, 2):
        item = receive(point, rating=rating).feedback
        item.created_at = utcnow() - timedelta(days=1)
    db.session.flush()
    today = utcnow().astimezone(portal_tz()).date()
    summary = services.day_summary([head, qm, employee], today)
    assert summary[head.id] == [("规则测试部", 3, 2, pytest.approx(8 / 3))]
    assert summary[qm.id] == summary[head.id]
    assert employee.id not in summary
    assert services.day_summary([head], today + timedelta(days=3)) == {}


def test_a_retried_htmx_post_with_an_error_keeps_the_same_token(client, point):
    fields = open_form(client, kiosk_path(point))
    refused = client.post(kiosk_path(point), data={**fields, "comment": "没选"}, headers=HX, csrf=False)
    assert refused.status_code == 422 and fields["form_token"] in text(refused)
    assert feedback_count() == 0
