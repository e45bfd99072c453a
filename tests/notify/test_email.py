"""Email over a real SMTP server (aiosmtpd on a loopback port): encoding, multipart bodies, one connection
per batch, outages with exponential backoff, refused recipients, quiet hours, digests and preferences."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.notify import registry
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.delivery import process, sweep
from portal.notify.digest import build_day, digest_subject
from portal.notify.models import DIGEST, FAILED, INAPP, INSTANT, PENDING, SENT, CapturedEmail, Digest
from portal.notify.services import get_settings, notify, notify_many, set_preference
from tests.helpers import SHANGHAI, count, reloaded, sh
from tests.notify.helpers import captured, deliveries, email_deliveries_of, parse, raw_header, raw_headers

pytestmark = pytest.mark.usefixtures("drain_queue")

NOW = sh(2025, 9, 29, 10, 0)  # a Monday morning, outside quiet hours
TITLE = "客户投诉：华东区服务质量评审结果"
BODY = "请于本周五前完成整改，并在门户中提交说明。<附件> & 记录"


def _email_ids(notes):
    return [d.id for n in notes for d in email_deliveries_of(n)]


# -- one email, read back as a mail client would --------------------------------------------------
@pytest.mark.committing
def test_email_arrives_multipart_with_rfc2047_chinese_subject(make_user, smtp_server, use_smtp):
    server = smtp_server()
    use_smtp(server.port)
    user = make_user(display_name="王小明")
    note = notify(user, ANNOUNCEMENT, TITLE, BODY, "/notifications", now=NOW)
    db.session.commit()
    [delivery] = email_deliveries_of(note)
    assert delivery.status == PENDING and delivery.target == user.email

    assert process([delivery.id], now=NOW) == {"sent": 1, "retry": 0, "failed": 0}

    [envelope] = server.handler.envelopes
    assert envelope.rcpt_tos == [user.email]
    assert envelope.mail_from == "quality@example.cn"
    raw = envelope.content
    # Every header travels as ASCII; the subject as RFC 2047 encoded words in UTF-8.
    raw_headers(raw).decode("ascii")
    subject = raw_header(raw, "Subject")
    assert subject.lower().startswith(b"=?utf-8?") and subject.endswith(b"?=")
    assert "客户投诉".encode() not in raw_headers(raw)

    message = parse(raw)
    assert message["Subject"] == TITLE
    assert message["To"] == user.email
    assert message["From"].addresses[0].display_name == "服务质量门户"
    assert message["Message-ID"] == f"<notification.{note.id}.email@quality-portal>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message.get_body(("plain",)).get_content_charset() == "utf-8"
    assert TITLE in text and BODY in text
    assert "http://127.0.0.1:5000/notifications" in text
    assert f"<h2 style=\"font-size: 18px;\">{TITLE}</h2>" in html
    # The body is escaped in the HTML part, not interpreted.
    assert "请于本周五前完成整改，并在门户中提交说明。&lt;附件&gt; &amp; 记录" in html
    assert 'href="http://127.0.0.1:5000/notifications"' in html

    delivery = reloaded(delivery)
    assert delivery.status == SENT and delivery.attempts == 1 and delivery.sent_at is not None
    assert count(CapturedEmail) == 0  # an SMTP host is configured: nothing is captured


@pytest.mark.committing
def test_a_batch_shares_one_smtp_connection(make_user, smtp_server, use_smtp):
    server = smtp_server()
    use_smtp(server.port)
    users = [make_user() for _ in range(5)]
    notes = notify_many(users, ANNOUNCEMENT, "系统维护通知", "今晚 22:00 起维护。", now=NOW)
    db.session.commit()
    ids = _email_ids(notes)
    assert len(ids) == 5

    assert process(ids, now=NOW)["sent"] == 5

    assert sorted(server.handler.recipients()) == sorted(u.email for u in users)
    assert server.handler.greetings == 1  # one EHLO: one connection for the batch
    assert len(set(server.handler.peers)) == 1
    assert all(m["Subject"] == "系统维护通知" for m in server.handler.messages())
    # Processing the same ids again sends nothing: they are no longer pending.
    assert process(ids, now=NOW + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(server.handler.envelopes) == 5


# -- outages and refusals -------------------------------------------------------------------------
def _delivery_to_a_stopped_server(smtp_server, use_smtp, make_user, title: str):
    """(server, user, delivery): an email delivery, committed, for an SMTP server that is not listening yet."""
    server = smtp_server(start=False)  # nothing listens on the port yet
    use_smtp(server.port)
    user = make_user()
    note = notify(user, ANNOUNCEMENT, title, now=NOW)
    db.session.commit()
    [delivery] = email_deliveries_of(note)
    return server, user, delivery


@pytest.mark.committing
def test_server_down_backs_off_then_delivers_exactly_once(app, make_user, smtp_server, use_smtp):
    server, user, delivery = _delivery_to_a_stopped_server(smtp_server, use_smtp, make_user, "待办提醒：请确认整改计划")
    backoff = app.config["PORTAL_DELIVERY_BACKOFF_SECONDS"]

    assert process([delivery.id], now=NOW) == {"sent": 0, "retry": 1, "failed": 0}
    delivery = reloaded(delivery)
    assert delivery.status == PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == NOW + timedelta(seconds=backoff)
    assert "cannot connect" in delivery.last_error

    # Not due yet: neither process() nor the sweeper touches it.
    assert process([delivery.id], now=NOW + timedelta(seconds=backoff - 1))["retry"] == 0
    assert sweep(NOW + timedelta(seconds=backoff - 1)) == []

    second = NOW + timedelta(seconds=backoff)
    assert process([delivery.id], now=second)["retry"] == 1
    delivery = reloaded(delivery)
    assert delivery.attempts == 2 and delivery.next_attempt_at == second + timedelta(seconds=backoff * 2)

    server.start()
    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert sweep(later) == [[delivery.id]]
    assert process([delivery.id], now=later) == {"sent": 1, "retry": 0, "failed": 0}
    assert process([delivery.id], now=later + timedelta(hours=1))["sent"] == 0
    assert sweep(later + timedelta(days=1)) == []
    assert server.handler.recipients() == [user.email]
    delivery = reloaded(delivery)
    assert delivery.status == SENT and delivery.attempts == 3 and delivery.last_error == ""


@pytest.mark.committing
def test_after_max_attempts_the_delivery_fails_and_an_admin_retries_it(app, admin, client, login, make_user,
                                                                        smtp_server, use_smtp, redis_url):
    server, user, delivery = _delivery_to_a_stopped_server(smtp_server, use_smtp, make_user, "质量月报已发布")
    max_attempts = app.config["PORTAL_DELIVERY_MAX_ATTEMPTS"]
    backoff = app.config["PORTAL_DELIVERY_BACKOFF_SECONDS"]

    moment = NOW
    for attempt in range(1, max_attempts):
        assert process([delivery.id], now=moment) == {"sent": 0, "retry": 1, "failed": 0}
        delivery = reloaded(delivery)
        assert delivery.attempts == attempt
        assert delivery.next_attempt_at == moment + timedelta(seconds=backoff * 2 ** (attempt - 1))
        moment = delivery.next_attempt_at
    assert process([delivery.id], now=moment) == {"sent": 0, "retry": 0, "failed": 1}
    delivery = reloaded(delivery)
    assert delivery.status == FAILED and delivery.attempts == max_attempts
    assert sweep(moment + timedelta(days=30)) == []  # failed rows are left alone

    login(client, admin)
    page = client.get("/admin/notify/jobs")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    table = body.split('class="table table-sm small failed-deliveries"', 1)[1]
    assert f'<tr id="delivery-{delivery.id}"><td>{delivery.id}</td><td>email</td><td>{user.email}</td>' \
           f"<td>{max_attempts}</td>" in table
    assert f'/admin/notify/deliveries/{delivery.id}/retry' in table

    response = client.post(f"/admin/notify/deliveries/{delivery.id}/retry")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/notify/jobs"
    delivery = reloaded(delivery)
    assert delivery.status == PENDING and delivery.attempts == 0
    assert f'id="delivery-{delivery.id}"' not in client.get("/admin/notify/jobs").get_data(as_text=True)
    # Retrying a delivery that is not failed is a 404.
    assert client.post(f"/admin/notify/deliveries/{delivery.id}/retry").status_code == 404

    server.start()
    assert process([delivery.id], now=utc_now_plus())["sent"] == 1
    assert server.handler.recipients() == [user.email]


def utc_now_plus(seconds: int = 5):
    from portal.core.types import utcnow

    return utcnow() + timedelta(seconds=seconds)


@pytest.mark.committing
def test_a_refused_recipient_fails_alone_and_the_batch_goes_on(make_user, smtp_server, use_smtp):
    users = [make_user() for _ in range(3)]
    refused = users[1]
    server = smtp_server(refuse=(refused.email,))
    use_smtp(server.port)
    notes = notify_many(users, ANNOUNCEMENT, "培训通知：服务规范", now=NOW)
    db.session.commit()
    ids = _email_ids(notes)

    assert process(ids, now=NOW) == {"sent": 2, "retry": 0, "failed": 1}

    assert sorted(server.handler.recipients()) == sorted([users[0].email, users[2].email])
    assert server.handler.greetings == 1  # the refusal did not cost a reconnection
    db.session.expire_all()
    by_target = {d.target: d for d in deliveries(channel="email")}
    assert by_target[refused.email].status == FAILED  # permanent: no retry
    assert by_target[refused.email].attempts == 1
    assert "550" in by_target[refused.email].last_error
    assert by_target[users[0].email].status == SENT and by_target[users[2].email].status == SENT


# -- quiet hours ----------------------------------------------------------------------------------
@pytest.mark.committing
def test_quiet_hours_hold_the_email_until_eight(make_user):
    settings = get_settings()  # nothing saved: the defaults from the configuration
    assert (settings.quiet_start, settings.quiet_end) == ("20:00", "08:00")
    user = make_user()
    evening = sh(2025, 9, 29, 22, 0)
    note = notify(user, ANNOUNCEMENT, "夜间告警：客户满意度低于阈值", now=evening)
    db.session.commit()

    # The in-app notification exists at once…
    assert note.id is not None and note.read_at is None and note.created_at == evening
    # …the email waits for the end of quiet hours (next day, 08:00 Shanghai).
    [delivery] = email_deliveries_of(note)
    assert delivery.status == PENDING
    assert delivery.next_attempt_at == sh(2025, 9, 30, 8, 0)
    assert delivery.next_attempt_at.astimezone(SHANGHAI).hour == 8

    before = sh(2025, 9, 30, 7, 59)
    assert sweep(before) == []
    assert process([delivery.id], now=before) == {"sent": 0, "retry": 0, "failed": 0}
    assert count(CapturedEmail) == 0

    at_eight = sh(2025, 9, 30, 8, 0)
    assert sweep(at_eight) == [[delivery.id]]
    assert process([delivery.id], now=at_eight)["sent"] == 1
    [mail] = captured()
    assert mail.to == user.email and mail.subject == "夜间告警：客户满意度低于阈值"


@pytest.mark.parametrize(
    "moment, release",
    [
        (sh(2025, 9, 30, 3, 0), sh(2025, 9, 30, 8, 0)),  # after midnight: the same morning
        (sh(2025, 9, 29, 20, 0), sh(2025, 9, 30, 8, 0)),  # quiet hours start at 20:00 sharp
        (sh(2025, 9, 29, 19, 59), None),
        (sh(2025, 9, 30, 8, 0), None),
    ],
)
def test_quiet_hours_edges(make_user, moment, release):
    user = make_user()
    note = notify(user, ANNOUNCEMENT, "边界测试", now=moment)
    [delivery] = email_deliveries_of(note)
    assert delivery.next_attempt_at == (release or moment)


# -- preferences ----------------------------------------------------------------------------------
def test_preferences_decide_whether_an_email_is_written(make_user, monkeypatch):
    digest_kind = "zz.weekly_report"
    monkeypatch.setattr(registry, "notification_kinds", registry.notification_kinds.copy())
    registry.notification_kinds.register(digest_kind, registry.NotificationKind(digest_kind, "周报", DIGEST))
    instant, digest_only, inapp_only = make_user(), make_user(), make_user()
    set_preference(digest_only, ANNOUNCEMENT, DIGEST)
    set_preference(inapp_only, ANNOUNCEMENT, INAPP)

    notes = notify_many([instant, digest_only, inapp_only], ANNOUNCEMENT, "偏好测试", now=NOW)
    assert [len(email_deliveries_of(n)) for n in notes] == [1, 0, 0]
    assert all(n.id for n in notes)  # everyone has the in-app notification

    # A kind whose default is the digest: no email unless the user asks for instant ones.
    assert email_deliveries_of(notify(instant, digest_kind, "周报已生成", now=NOW)) == []
    set_preference(instant, digest_kind, INSTANT)
    assert len(email_deliveries_of(notify(instant, digest_kind, "周报已生成（二）", now=NOW))) == 1


def test_notify_is_idempotent_per_dedupe_key_and_skips_inactive_users(make_user):
    user, gone = make_user(), make_user(active=False)
    first = notify(user, ANNOUNCEMENT, "只发一次", dedupe_key="case:42", now=NOW)
    again = notify(user, ANNOUNCEMENT, "只发一次", dedupe_key="case:42", now=NOW)
    assert again.id == first.id
    assert len(email_deliveries_of(first)) == 1
    assert notify_many([gone], ANNOUNCEMENT, "不应发送", now=NOW) == []


# -- the daily digest -----------------------------------------------------------------------------
@pytest.mark.committing
def test_digest_one_email_per_user_with_something_to_report(make_user, smtp_server, use_smtp, admin):
    server = smtp_server()
    use_smtp(server.port)
    alice, bob, idle = make_user(display_name="李雷"), make_user(display_name="韩梅梅"), make_user()
    for user in (alice, bob, idle):
        set_preference(user, ANNOUNCEMENT, DIGEST)  # digest only: no instant email
    yesterday = sh(2025, 9, 28, 15, 0)
    notify(alice, ANNOUNCEMENT, "回访任务：上海客户", now=yesterday)
    notify(alice, ANNOUNCEMENT, "整改通知：北京门店", now=yesterday)
    notify(bob, ANNOUNCEMENT, "培训安排：新员工服务礼仪", now=yesterday)
    read = notify(idle, ANNOUNCEMENT, "已读的通知", now=yesterday)
    read.read_at = yesterday
    db.session.commit()
    assert deliveries(channel="email") == []

    day = date(2025, 9, 29)
    send_at = sh(2025, 9, 29, 8, 30)
    ids = build_day(day, now=send_at)
    assert len(ids) == 2
    assert process(ids, now=send_at)["sent"] == 2

    assert sorted(server.handler.recipients()) == sorted([alice.email, bob.email])  # idle and admin: none
    assert server.handler.greetings == 1
    by_user = {d.user_id: d for d in db.session.scalars(sa.select(Digest))}
    assert set(by_user) == {alice.id, bob.id}
    assert by_user[alice.id].item_count == 2 and by_user[bob.id].item_count == 1
    for envelope in server.handler.envelopes:
        message = parse(envelope.content)
        [to] = envelope.rcpt_tos
        owner = alice if to == alice.email else bob
        raw_headers(envelope.content).decode("ascii")
        from flask_babel import force_locale

        with force_locale("zh_Hans_CN"):
            expected_subject = digest_subject(by_user[owner.id])
        assert message["Subject"] == expected_subject
        assert "2025-09-29" in expected_subject
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert owner.display_name in text and owner.display_name in html
        if owner is alice:
            for title in ("回访任务：上海客户", "整改通知：北京门店"):
                assert title in text and title in html
            assert "培训安排" not in text
        else:
            assert "培训安排：新员工服务礼仪" in text and "回访任务" not in text
        assert "已读的通知" not in text

    # Building the day again writes nothing and sends nothing.
    assert build_day(day, now=send_at + timedelta(minutes=5)) == []
    assert sweep(send_at + timedelta(hours=1)) == []
    assert len(server.handler.envelopes) == 2
    assert count(Digest) == 2


@pytest.mark.committing
def test_a_message_that_cannot_be_built_fails_alone(make_user, smtp_server, use_smtp):
    """A line break in a title is folded into the subject; one in an address fails that delivery only — neither
    may leave the batch stuck in ``sending``."""
    server = smtp_server()
    use_smtp(server.port)
    broken, multiline, fine = make_user(), make_user(), make_user()
    broken.email = "broken\r\nBcc: victim@example.cn"  # stored by an import that did not validate it
    notify(broken, ANNOUNCEMENT, "通知一", now=NOW)
    notify(multiline, ANNOUNCEMENT, "第一行\n第二行\r\nBcc: victim@example.cn", now=NOW)
    notify(fine, ANNOUNCEMENT, "通知三", now=NOW)
    db.session.commit()
    ids = [d.id for d in deliveries(channel="email")]

    assert process(ids, now=NOW) == {"sent": 2, "retry": 0, "failed": 1}

    db.session.expire_all()
    statuses = {d.recipient_id: d for d in deliveries(channel="email")}
    assert statuses[broken.id].status == FAILED and "cannot build" in statuses[broken.id].last_error
    assert statuses[multiline.id].status == SENT and statuses[fine.id].status == SENT
    assert sorted(server.handler.recipients()) == sorted([multiline.email, fine.email])
    subjects = {m["To"]: m["Subject"] for m in server.handler.messages()}
    assert subjects[multiline.email] == "第一行 第二行 Bcc: victim@example.cn"
    assert all("victim" not in r for r in server.handler.recipients())
    assert all(m["Bcc"] is None for m in server.handler.messages())
