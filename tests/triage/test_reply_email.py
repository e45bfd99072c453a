"""A reply to a customer who left an email address and consented to contact is also emailed, through the
notification outbox, to a real SMTP server (aiosmtpd on a loopback port): once per reply, retried while the server
is down, never for a customer without consent or without an address. The history and the audit trail name the
address masked; the email names the service point and the 查询码, never the internal ticket."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db, rq
from portal.feedback import codes
from portal.feedback import services as feedback_services
from portal.notify.delivery import process, sweep
from portal.notify.models import FAILED, PENDING, SENT, CapturedEmail, Delivery
from portal.org.services import mask_email
from portal.triage.models import TicketEvent
from portal.triage.reply import REPLY_EMAIL
from tests.helpers import audit, count, reloaded, text
from tests.notify.conftest import smtp_server, use_smtp  # noqa: F401 — the real SMTP server's fixtures
from tests.notify.helpers import captured
from tests.triage.helpers import point, ticket_of

pytestmark = pytest.mark.usefixtures("drain_queue")

CUSTOMER = "kehu.wang@example.cn"
REPLY = "您好，我们已在高峰时段加开两个窗口，并对窗口人员做了提醒。"


@pytest.fixture
def smtp(smtp_server, use_smtp):
    """A real SMTP server on a loopback port that the portal sends to, and an empty job queue."""
    server = smtp_server()
    use_smtp(server.port)
    rq.queue().empty()
    return server


def _received(org, contact: str = CUSTOMER, consent: bool = True):
    kf = point(org, "KF01", "KF")
    received = feedback_services.receive(
        feedback_services.Submission(rating=2, comment="窗口太慢", contact=contact, consent=consent),
        feedback_services.Intake(channel="kiosk", idempotency_key=feedback_services.new_request_key(), point=kf))
    db.session.commit()
    return received.query_code, ticket_of(received.feedback)


def _reply(member, ticket, key: str, body: str = REPLY):
    response = member.post(f"/queue/{ticket.id}/reply", data={"reply-text": body, "reply-request_key": key})
    assert response.status_code in (302, 303), text(response)[:500]


def _deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Delivery).where(Delivery.source == REPLY_EMAIL).order_by(Delivery.id)))


def _due_replies(moment) -> list[int]:
    """The reply emails the outbox sweeper would send at ``moment`` (other deliveries, e.g. staff's, left out)."""
    replies = {d.id for d in _deliveries()}
    return [i for batch in sweep(moment) for i in batch if i in replies]


def _run_queued_jobs() -> int:
    """Run the delivery jobs of reply emails that the requests enqueued after their commits, as a worker would (the
    real job function); return how many there were."""
    replies = {d.id for d in _deliveries()}
    jobs = [job for job in rq.queue().get_jobs()
            if job.func_name.endswith("deliver_batch") and set(job.args[0]) <= replies]
    for job in jobs:
        job.perform()
        job.delete()
    return len(jobs)


def test_a_reply_with_consent_reaches_the_customer_once_with_the_code_and_no_ticket(org, client_for, smtp):
    server = smtp
    code, ticket = _received(org)
    member = client_for(org.kf_member)
    _reply(member, ticket, "mail-1")

    [delivery] = _deliveries()
    # The outbox row holds the address and the reply's id, not the message (nor the 查询码).
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.kind == "reply"))
    assert (delivery.channel, delivery.target, delivery.source_id, delivery.recipient_id) == \
           ("email", CUSTOMER, event.id, None)
    assert delivery.notification_id is None and delivery.digest_id is None
    assert _run_queued_jobs() == 1  # deliver_batch, enqueued after the reply's commit

    [envelope] = server.handler.envelopes
    assert envelope.rcpt_tos == [CUSTOMER]
    [message] = server.handler.messages()
    shown = codes.display_query_code(code)
    assert message["Subject"] == f"您在「KF01 窗口」的意见已有回复（查询码 {shown}）"
    body = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert REPLY in body and REPLY in html
    assert "KF01 窗口" in body and shown in body and shown in html
    # Nothing of the internal ticket, and no link to a loopback address (no public address is configured).
    for part in (body, html, str(message["Subject"])):
        assert f"#{ticket.id}" not in part and "/queue" not in part and "127.0.0.1" not in part
    assert "查询页面" in body
    delivery = reloaded(delivery)
    assert delivery.status == SENT
    assert delivery.target == "k***@example.cn"  # sent: the outbox no longer needs the whole address

    # History and audit: the address masked; the ticket page says it was sent.
    event = reloaded(event)
    assert event.data == {"emailed": True, "consented": True, "email_to": "k***@example.cn"}
    [entry] = audit("triage.reply", ticket)
    assert entry.summary["emailed_to"] == "k***@example.cn"
    assert CUSTOMER not in str(entry.summary)
    page = text(member.get(f"/queue/{ticket.id}"))
    assert "回复已通过邮件发送至 k***@example.cn" in page and "已发送" in page

    # Running the job again (a retried job, the sweeper) sends nothing more.
    assert process([delivery.id], now=utcnow() + timedelta(hours=1))["sent"] == 0
    assert _due_replies(utcnow() + timedelta(days=1)) == []
    assert len(server.handler.envelopes) == 1


def test_the_email_links_to_the_query_page_when_the_portal_has_a_public_address(app, org, client_for, smtp,
                                                                               monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_KIOSK_BASE_URL", "https://fuwu.example.cn/")
    server = smtp
    code, ticket = _received(org)
    _reply(client_for(org.kf_member), ticket, "mail-link")
    [delivery] = _deliveries()
    assert process([delivery.id]) == {"sent": 1, "retry": 0, "failed": 0}
    [message] = server.handler.messages()
    link = f"https://fuwu.example.cn/q/{code}"
    assert f": {link}" in message.get_body(("plain",)).get_content()
    assert f'href="{link}"' in message.get_body(("html",)).get_content()


@pytest.mark.parametrize("contact, consent", [(CUSTOMER, False), ("13800138000", True), ("", False)],
                         ids=["email-without-consent", "consent-with-a-phone-only", "no-contact"])
def test_no_email_without_consent_or_without_an_address(org, client_for, smtp, contact, consent):
    server = smtp
    code, ticket = _received(org, contact=contact, consent=consent)
    member = client_for(org.kf_member)
    _reply(member, ticket, "mail-none")

    assert _deliveries() == []
    assert _run_queued_jobs() == 0
    assert _due_replies(utcnow() + timedelta(days=1)) == []
    assert server.handler.envelopes == []
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.kind == "reply"))
    assert event.data["emailed"] is False and "email_to" not in event.data
    assert "emailed_to" not in str(audit("triage.reply", ticket)[-1].summary)
    assert REPLY in text(member.get(f"/q/{code}"))  # still shown on the 查询码 page


def test_a_double_submit_emails_once_and_a_second_reply_is_a_second_email(org, client_for, smtp):
    server = smtp
    _code, ticket = _received(org)
    member = client_for(org.kf_member)
    _reply(member, ticket, "mail-twice")
    _reply(member, ticket, "mail-twice")  # the same form sent again (a double click, a retried request)

    assert len(_deliveries()) == 1
    assert count(TicketEvent, TicketEvent.kind == "reply") == 1
    _run_queued_jobs()
    assert len(server.handler.envelopes) == 1

    _reply(member, ticket, "mail-later", body="补充说明：新窗口已于今日启用。")  # a new reply is a new email
    assert len(_deliveries()) == 2
    _run_queued_jobs()
    assert [m.get_body(("plain",)).get_content().count("补充说明") for m in server.handler.messages()] == [0, 1]


def test_smtp_down_then_up_delivers_the_reply_once_after_a_retry(app, org, client_for, smtp_server, use_smtp):
    server = smtp_server(start=False)  # nothing listens on the port yet
    use_smtp(server.port)
    _code, ticket = _received(org)
    _reply(client_for(org.kf_member), ticket, "mail-down")
    [delivery] = _deliveries()
    now = utcnow()

    assert process([delivery.id], now=now) == {"sent": 0, "retry": 1, "failed": 0}
    delivery = reloaded(delivery)
    backoff = app.config["PORTAL_DELIVERY_BACKOFF_SECONDS"]
    assert delivery.status == PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == now + timedelta(seconds=backoff)
    assert _due_replies(now + timedelta(seconds=backoff - 1)) == []  # not due yet

    server.start()
    later = now + timedelta(seconds=backoff)
    assert _due_replies(later) == [delivery.id]  # the sweeper (the minute tick) finds it again
    assert process([delivery.id], now=later) == {"sent": 1, "retry": 0, "failed": 0}
    assert process([delivery.id], now=later + timedelta(hours=1))["sent"] == 0
    assert server.handler.recipients() == [CUSTOMER]
    delivery = reloaded(delivery)
    assert delivery.status == SENT and delivery.attempts == 2 and delivery.last_error == ""


def test_with_no_smtp_server_the_reply_is_captured_in_the_outbox(org, client_for):
    """The embedded default: no SMTP host, every email kept in the 发件箱 for administrators."""
    code, ticket = _received(org)
    _reply(client_for(org.kf_member), ticket, "mail-captured")
    [delivery] = _deliveries()
    assert process([delivery.id]) == {"sent": 1, "retry": 0, "failed": 0}
    [mail] = captured()
    assert (mail.to, mail.delivery_id) == (CUSTOMER, delivery.id)
    assert REPLY in mail.text and codes.display_query_code(code) in mail.text
    assert count(CapturedEmail) == 1


def test_a_refused_address_fails_for_good_and_the_log_does_not_name_it(org, client_for, smtp_server, use_smtp, caplog):
    server = smtp_server(refuse=(CUSTOMER,))
    use_smtp(server.port)
    _code, ticket = _received(org)
    member = client_for(org.kf_member)
    _reply(member, ticket, "mail-refused")
    [delivery] = _deliveries()
    with caplog.at_level(logging.WARNING, logger="portal.notify.delivery"):
        assert process([delivery.id]) == {"sent": 0, "retry": 0, "failed": 1}
    delivery = reloaded(delivery)
    assert delivery.status == FAILED and delivery.target == CUSTOMER  # kept whole for an administrator's retry
    assert "failed for good" in caplog.text
    assert CUSTOMER not in caplog.text and "k***@example.cn" in caplog.text
    page = text(member.get(f"/queue/{ticket.id}"))
    assert "回复已通过邮件发送至 k***@example.cn" in page and "无法送达" in page


def test_a_reply_deleted_before_sending_is_never_sent(org, client_for, smtp):
    server = smtp
    _code, ticket = _received(org)
    _reply(client_for(org.kf_member), ticket, "mail-gone")
    [delivery] = _deliveries()
    db.session.execute(sa.delete(TicketEvent).where(TicketEvent.id == delivery.source_id))
    db.session.commit()
    assert process([delivery.id]) == {"sent": 0, "retry": 0, "failed": 1}
    assert server.handler.envelopes == []


@pytest.mark.parametrize("address, masked", [("kehu.wang@example.cn", "k***@example.cn"), ("a@b.cn", "a***@b.cn"),
                                             ("not-an-address", "***"), ("", "")])
def test_mask_email(address, masked):
    assert mask_email(address) == masked
