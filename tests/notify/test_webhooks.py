"""Group-chat robots against a real HTTP receiver that checks each platform's envelope and signature."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.notify.admin import ANNOUNCEMENT, save_webhook
from portal.notify.delivery import process
from portal.notify.models import FAILED, INAPP, PENDING, SENT, Delivery, Webhook
from portal.notify.services import decrypt_secret, notify, set_preference
from tests.helpers import HX, audit, count, field_has_error, reloaded, sh
from tests.notify.helpers import deliveries

pytestmark = pytest.mark.usefixtures("drain_queue")

NOW = sh(2025, 9, 29, 10, 0)
TITLE = "【重要】华南区客户满意度跌破 85%"
BODY = "请各门店负责人今日内提交整改计划。"
DING_SECRET = "SECa1b2c3d4e5f6钉钉"
FEISHU_SECRET = "feishu-签名-secret"


def _raise(make_user, department, title=TITLE):
    user = make_user(department=department)
    set_preference(user, ANNOUNCEMENT, INAPP)  # only the robot delivery, no email
    note = notify(user, ANNOUNCEMENT, title, BODY, "/notifications", department_id=department.id, webhook=True, now=NOW)
    db.session.commit()
    return note


@pytest.mark.committing
@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu"])
def test_each_platform_gets_a_well_formed_message(platform, admin, make_user, make_department, robots):
    secret = {"wecom": "", "dingtalk": DING_SECRET, "feishu": FEISHU_SECRET}[platform]
    robots.secrets[platform] = secret
    dept = make_department(name="华南服务部")
    hook = save_webhook(admin, None, department_id=dept.id, platform=platform,
                        url=f"{robots.base_url}/{platform}?access_token=abc123", secret=secret, active=True)
    db.session.commit()
    if secret:
        assert hook.secret != secret and decrypt_secret(hook.secret) == secret
    note = _raise(make_user, dept)
    [delivery] = deliveries(notification_id=note.id, channel="webhook")
    assert delivery.target == str(hook.id) and delivery.recipient_id is None

    assert process([delivery.id], now=NOW) == {"sent": 1, "retry": 0, "failed": 0}

    [(got_platform, query, body, accepted)] = robots.received
    assert got_platform == platform and accepted
    assert query["access_token"] == "abc123"  # the robot's own query string is kept
    link = "http://127.0.0.1:5000/notifications"
    if platform == "wecom":
        content = body["markdown"]["content"]
        assert content.startswith(f"**{TITLE}**\n") and BODY in content and link in content
    elif platform == "dingtalk":
        assert body["markdown"]["title"] == TITLE
        assert body["markdown"]["text"].startswith(f"### {TITLE}\n") and BODY in body["markdown"]["text"]
        assert abs(int(query["timestamp"]) / 1000 - time.time()) < 60
    else:
        assert body["card"]["header"]["title"]["content"] == TITLE
        [element] = body["card"]["elements"]
        assert element["tag"] == "markdown" and BODY in element["content"] and link in element["content"]
        assert abs(int(body["timestamp"]) - time.time()) < 60
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).status == SENT


@pytest.mark.committing
@pytest.mark.parametrize("platform, error", [("dingtalk", "310000"), ("feishu", "19021")])
def test_a_wrong_secret_is_refused_and_the_delivery_fails_for_good(platform, error, admin, make_user,
                                                                    make_department, robots):
    robots.secrets[platform] = "the-real-secret"
    dept = make_department()
    save_webhook(admin, None, department_id=dept.id, platform=platform, url=f"{robots.base_url}/{platform}",
                 secret="a-wrong-secret", active=True)
    db.session.commit()
    note = _raise(make_user, dept)
    [delivery] = deliveries(notification_id=note.id, channel="webhook")

    assert process([delivery.id], now=NOW) == {"sent": 0, "retry": 0, "failed": 1}

    [(_p, _q, _b, accepted)] = robots.received
    assert not accepted
    delivery = reloaded(delivery)
    assert delivery.status == FAILED and delivery.attempts == 1 and error in delivery.last_error


@pytest.mark.committing
def test_every_active_robot_of_the_department_and_no_other(admin, make_user, make_department, robots):
    dept, other = make_department(), make_department()
    robots.secrets["dingtalk"] = DING_SECRET
    save_webhook(admin, None, department_id=dept.id, platform="wecom", url=f"{robots.base_url}/wecom", secret="",
                 active=True)
    save_webhook(admin, None, department_id=dept.id, platform="dingtalk", url=f"{robots.base_url}/dingtalk",
                 secret=DING_SECRET, active=True)
    save_webhook(admin, None, department_id=dept.id, platform="feishu", url=f"{robots.base_url}/feishu", secret="",
                 active=False)
    save_webhook(admin, None, department_id=other.id, platform="wecom", url=f"{robots.base_url}/wecom", secret="",
                 active=True)
    db.session.commit()
    note = _raise(make_user, dept)
    hooks = deliveries(notification_id=note.id, channel="webhook")
    assert len(hooks) == 2

    assert process([d.id for d in hooks], now=NOW)["sent"] == 2
    assert sorted(p for p, *_rest in robots.received) == ["dingtalk", "wecom"]
    assert all(accepted for *_rest, accepted in robots.received)
    # A robot deactivated after the notification was raised: its pending delivery fails, nothing is posted.
    note2 = _raise(make_user, dept, "第二条通知")
    pending = deliveries(notification_id=note2.id, channel="webhook")
    for hook in db.session.scalars(sa.select(Webhook)):
        hook.active = False
    db.session.commit()
    assert process([d.id for d in pending], now=NOW)["failed"] == 2
    assert len(robots.received) == 2


@pytest.mark.committing
def test_robot_server_down_is_retried_later(admin, make_user, make_department, robots):
    from tests.livesrv import free_port

    dept = make_department()
    save_webhook(admin, None, department_id=dept.id, platform="wecom", url=f"http://127.0.0.1:{free_port()}/wecom",
                 secret="", active=True)
    db.session.commit()
    note = _raise(make_user, dept)
    [delivery] = deliveries(notification_id=note.id, channel="webhook")
    assert process([delivery.id], now=NOW) == {"sent": 0, "retry": 1, "failed": 0}
    delivery = reloaded(delivery)
    assert delivery.status == PENDING and delivery.attempts == 1 and delivery.next_attempt_at > NOW


# -- the admin form -------------------------------------------------------------------------------
def _form(dept, **overrides):
    data = {"department_id": str(dept.id), "platform": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x",
            "secret": "", "active": "y"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("url", ["oapi.dingtalk.com/robot/send", "ftp://oapi.dingtalk.com/robot/send",
                                 "https://oapi.dingtalk.com/robot send", " ", "", "https://", "javascript:alert(1)",
                                 "http://[::1/robot", "https://oapi.dingtalk.com:99999/robot",
                                 "https://oapi.dingtalk.com:abc/robot", "https://oapi.dingtalk.com:0/robot"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_malformed_urls_are_refused(admin_client, make_department, url, headers):
    dept = make_department()
    response = admin_client.post("/admin/notify/webhooks", data=_form(dept, url=url), headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_has_error(body, "url")
    assert ("<html" in body) == (not headers)
    assert count(Webhook) == 0
    assert audit("webhook.create") == []


def test_a_wecom_robot_with_a_secret_is_refused(admin_client, make_department):
    dept = make_department()
    response = admin_client.post("/admin/notify/webhooks", data=_form(dept, platform="wecom", secret="SECxyz"))
    assert response.status_code == 422
    assert field_has_error(response.get_data(as_text=True), "secret")
    assert count(Webhook) == 0


def test_an_unknown_platform_or_department_is_refused(admin_client, make_department):
    dept = make_department()
    assert admin_client.post("/admin/notify/webhooks", data=_form(dept, platform="slack")).status_code == 422
    assert admin_client.post("/admin/notify/webhooks", data=_form(dept, department_id="999999")).status_code == 422
    assert count(Webhook) == 0


def test_a_good_robot_is_saved_with_its_secret_encrypted_and_never_shown(admin_client, make_department):
    dept = make_department(name="质量管理部")
    response = admin_client.post("/admin/notify/webhooks", data=_form(dept, secret="SECtopsecret"))
    assert response.status_code == 303
    [hook] = db.session.scalars(sa.select(Webhook))
    assert hook.department_id == dept.id and hook.platform == "dingtalk" and hook.active
    assert hook.secret != "SECtopsecret" and decrypt_secret(hook.secret) == "SECtopsecret"
    [event] = audit("webhook.create")
    assert "SECtopsecret" not in str(event.summary)

    listing = admin_client.get("/admin/notify/webhooks").get_data(as_text=True)
    assert "质量管理部" in listing and "oapi.dingtalk.com" in listing
    edit = admin_client.get(f"/admin/notify/webhooks/{hook.id}").get_data(as_text=True)
    assert "SECtopsecret" not in edit and hook.secret not in edit

    # Editing with an empty secret keeps the stored one; deactivating is saved.
    response = admin_client.post(f"/admin/notify/webhooks/{hook.id}", data=_form(dept, active=""))
    assert response.status_code == 303
    db.session.refresh(hook)
    assert not hook.active and decrypt_secret(hook.secret) == "SECtopsecret"
    assert len(audit("webhook.update")) == 1
    # A bad edit changes nothing.
    response = admin_client.post(f"/admin/notify/webhooks/{hook.id}", data=_form(dept, url="ftp://x"), headers=HX)
    assert response.status_code == 422
    db.session.refresh(hook)
    assert hook.url.startswith("https://oapi.dingtalk.com")
    assert admin_client.get("/admin/notify/webhooks/999999").status_code == 404
