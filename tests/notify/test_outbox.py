"""发件箱: with no SMTP host (the default) emails are captured in the database and shown to administrators."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.notify.admin import ANNOUNCEMENT
from portal.notify.delivery import process
from portal.notify.models import SENT, Delivery
from portal.notify.services import notify
from tests.helpers import HX, assert_full_page, assert_partial, sh
from tests.notify.helpers import captured, email_deliveries_of, parse

pytestmark = pytest.mark.usefixtures("drain_queue")

NOW = sh(2025, 9, 29, 10, 0)


@pytest.mark.committing
def test_without_smtp_host_emails_are_captured_and_listed(admin, client, login, make_user):
    zhang = make_user("zhang.san", display_name="张三")
    li = make_user("li.si", display_name="李四")
    first = notify(zhang, ANNOUNCEMENT, "服务评审会议纪要", "会议纪要见附件。", "/notifications", now=NOW)
    second = notify(li, ANNOUNCEMENT, "<script>alert('x')</script>投诉升级", "正文<b>加粗</b>", now=NOW)
    db.session.commit()
    ids = [d.id for n in (first, second) for d in email_deliveries_of(n)]

    assert process(ids, now=NOW) == {"sent": 2, "retry": 0, "failed": 0}

    mails = captured()
    assert [(m.to, m.subject) for m in mails] == [(zhang.email, "服务评审会议纪要"),
                                                   (li.email, "<script>alert('x')</script>投诉升级")]
    assert all(db.session.get(Delivery, m.delivery_id).status == SENT for m in mails)
    # The raw message is the one that would have been sent: multipart, Chinese subject encoded.
    message = parse(mails[0].raw.encode("utf-8"))
    assert message["Subject"] == "服务评审会议纪要"
    assert message.get_content_type() == "multipart/alternative"
    assert "会议纪要见附件。" in message.get_body(("plain",)).get_content()
    assert "会议纪要见附件。" in mails[0].text and "服务评审会议纪要" in mails[0].html

    login(client, admin)
    page = assert_full_page(client.get("/admin/notify/outbox"))
    assert zhang.email in page and li.email in page and "服务评审会议纪要" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page

    # Search by recipient or subject; an htmx request gets the rows only.
    rows = assert_partial(client.get("/admin/notify/outbox?q=zhang.san", headers=HX))
    assert rows.startswith('<div id="outbox-rows">')
    assert zhang.email in rows and li.email not in rows
    rows = assert_partial(client.get("/admin/notify/outbox", query_string={"q": "投诉升级"}, headers=HX))
    assert li.email in rows and zhang.email not in rows
    page = assert_full_page(client.get("/admin/notify/outbox", query_string={"q": "评审"}))
    assert zhang.email in page and li.email not in page
    rows = assert_partial(client.get("/admin/notify/outbox", query_string={"q": "%"}, headers=HX))
    assert zhang.email not in rows and li.email not in rows  # LIKE wildcards are searched literally

    # One email: the text part as text, the HTML part as escaped source, never rendered.
    detail = client.get(f"/admin/notify/outbox/{mails[0].id}")
    body = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "会议纪要见附件。" in body
    assert "&lt;h2 style=&#34;font-size: 18px;&#34;&gt;服务评审会议纪要&lt;/h2&gt;" in body
    assert '<h2 style="font-size: 18px;">' not in body
    detail = client.get(f"/admin/notify/outbox/{mails[1].id}").get_data(as_text=True)
    assert "<script>alert('x')</script>" not in detail and "<b>加粗</b>" not in detail
    assert "正文&lt;b&gt;加粗&lt;/b&gt;" in detail  # the text part, escaped once
    assert client.get("/admin/notify/outbox/999999").status_code == 404
