"""Robots may not post into the portal's own network (issue 8, item 7): only the platforms' robot hosts
over https, other hosts only when allow-listed, never loopback (unless the literal address is allow-listed),
link-local, multicast or unspecified addresses; checked after DNS resolution on save and again at send
time, and the connection goes to the address that was checked."""
from __future__ import annotations

import socket

import pytest

from portal.extensions import db
from portal.notify import webhooks
from portal.notify.admin import ANNOUNCEMENT, save_allowed_webhook_hosts
from portal.notify.delivery import process
from portal.notify.models import FAILED, INAPP, SENT, Webhook
from portal.notify.services import notify, set_preference
from portal.notify.webhooks import TargetRefused, check_target
from tests.helpers import HX, audit, count, field_has_error, reloaded, sh
from tests.notify.helpers import deliveries

pytestmark = pytest.mark.usefixtures("drain_queue")

NOW = sh(2025, 9, 29, 10, 0)
_real_getaddrinfo = socket.getaddrinfo


class FakeDNS(dict):
    """``dns[name] = [address, …]``: fake answers for these names (others resolve for real)."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host not in self:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.calls.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self[host]]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def no_connections(monkeypatch):
    """Fail the test if anything connects; records the attempts."""
    attempts = []

    def refuse(address, port, timeout):
        attempts.append((address, port))
        raise AssertionError(f"connected to {address}:{port}")

    monkeypatch.setattr(webhooks, "_open_socket", refuse)
    return attempts


# -- the rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:5102/healthz", "host"),
    ("https://127.0.0.1/robot", "host"),
    ("https://169.254.169.254/latest/meta-data", "host"),
    ("https://[::1]/robot", "host"),
    ("http://oapi.dingtalk.com/robot/send?access_token=x", "scheme"),
    ("https://robot.example.cn/hook", "host"),
    ("https://localhost/hook", "host"),
])
def test_only_the_platform_hosts_over_https_by_default(url, reason):
    with pytest.raises(TargetRefused) as refused:
        check_target(url, ())
    assert refused.value.reason == reason


@pytest.mark.parametrize("answer, reason", [
    (["127.0.0.1"], "loopback"), (["::1"], "loopback"), (["::ffff:127.0.0.1"], "loopback"),
    (["169.254.169.254"], "link-local"), (["fe80::1"], "link-local"), (["224.0.0.1"], "multicast"),
    (["0.0.0.0"], "unspecified"), (["::"], "unspecified"),
    (["10.1.2.3"], "private"), (["47.95.1.1", "192.168.1.10"], "private"),  # every answer must pass
])
def test_a_platform_host_that_resolves_into_the_network_is_refused(dns, answer, reason):
    dns["oapi.dingtalk.com"] = answer
    with pytest.raises(TargetRefused) as refused:
        check_target("https://oapi.dingtalk.com/robot/send", ())
    assert refused.value.reason == reason


@pytest.mark.parametrize("answer, reason", [
    (["127.0.0.1"], "loopback"), (["169.254.169.254"], "link-local"), (["ff02::1"], "multicast"),
    (["::"], "unspecified"),
])
def test_an_allow_listed_name_may_be_private_but_never_loopback_or_link_local(dns, answer, reason):
    dns["relay.intranet.example"] = answer
    with pytest.raises(TargetRefused) as refused:
        check_target("http://relay.intranet.example/hook", ["relay.intranet.example"])
    assert refused.value.reason == reason


def test_an_allow_listed_internal_host_is_accepted(dns):
    dns["relay.intranet.example"] = ["10.20.30.40"]
    target = check_target("http://relay.intranet.example:8080/hook?x=1", ["Relay.Intranet.Example."])
    assert target.addresses == ("10.20.30.40",) and target.port == 8080 and target.path == "/hook?x=1"
    dns["oapi.dingtalk.com"] = ["47.95.1.1"]
    assert check_target("https://oapi.dingtalk.com/robot/send", ()).addresses == ("47.95.1.1",)


def test_link_local_is_refused_even_when_allow_listed_literally():
    with pytest.raises(TargetRefused):
        check_target("http://169.254.169.254/latest", ["169.254.169.254"])
    # Loopback only when the administrator wrote the literal address (the test receivers do).
    assert check_target("http://127.0.0.1:9/x", ["127.0.0.1"]).addresses == ("127.0.0.1",)
    with pytest.raises(TargetRefused):
        check_target("http://[::1]:9/x", ["127.0.0.1"])


# -- on save --------------------------------------------------------------------------------------
def _form(dept, url, platform="dingtalk"):
    return {"department_id": str(dept.id), "platform": platform, "url": url, "secret": "", "active": "y"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:5102/healthz", "https://169.254.169.254/latest/meta-data",
                                 "https://[::1]/robot", "http://oapi.dingtalk.com/robot/send",
                                 "https://localhost/robot", "https://robot.example.cn/hook"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_internal_addresses_are_refused_on_save(admin_client, make_department, url, headers):
    dept = make_department()
    response = admin_client.post("/admin/notify/webhooks", data=_form(dept, url), headers=headers)
    assert response.status_code == 422
    assert field_has_error(response.get_data(as_text=True), "url")
    assert count(Webhook) == 0 and audit("webhook.create") == []


def test_a_name_resolving_to_loopback_is_refused_on_save_even_when_allow_listed(admin, admin_client, make_department,
                                                                                 dns):
    save_allowed_webhook_hosts(admin, "robot.example.cn")
    dns["robot.example.cn"] = ["127.0.0.1"]
    dept = make_department()
    response = admin_client.post("/admin/notify/webhooks", data=_form(dept, "https://robot.example.cn/hook"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert field_has_error(body, "url") and "127.0.0.1" in body
    assert count(Webhook) == 0


def test_the_refusal_is_said_in_the_form_language(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        message = webhooks.refusal_message(TargetRefused("loopback", "x → 127.0.0.1"))
        assert "127.0.0.1" in message
        assert webhooks.refusal_message(TargetRefused("scheme", "http")) != ""


def test_the_allow_list_is_edited_on_the_robots_page_and_audited(admin_client, dns, make_department):
    response = admin_client.post("/admin/notify/webhooks/hosts",
                                 data={"hosts": "relay.intranet.example\n10.1.2.3, RELAY.intranet.example"})
    assert response.status_code == 303
    [event] = audit("webhook.allowlist_update")
    assert "relay.intranet.example" in str(event.summary) or "relay.intranet.example" in str(vars(event))
    page = admin_client.get("/admin/notify/webhooks").get_data(as_text=True)
    assert "relay.intranet.example" in page and "qyapi.weixin.qq.com" in page
    # Saving the same list again changes and audits nothing.
    admin_client.post("/admin/notify/webhooks/hosts", data={"hosts": "10.1.2.3\nrelay.intranet.example"})
    assert len(audit("webhook.allowlist_update")) == 1
    response = admin_client.post("/admin/notify/webhooks/hosts", data={"hosts": "https://relay/x"}, headers=HX)
    assert response.status_code == 422
    # An allow-listed internal host can now be saved.
    dns["relay.intranet.example"] = ["10.20.30.40"]
    dept = make_department()
    response = admin_client.post("/admin/notify/webhooks",
                                 data=_form(dept, "http://relay.intranet.example:8080/hook", platform="wecom"))
    assert response.status_code == 303 and count(Webhook) == 1


# -- at send time ---------------------------------------------------------------------------------
def _raise(make_user, department):
    user = make_user(department=department)
    set_preference(user, ANNOUNCEMENT, INAPP)
    note = notify(user, ANNOUNCEMENT, "通知", "正文", "/notifications", department_id=department.id, webhook=True,
                  now=NOW)
    db.session.commit()
    [delivery] = deliveries(notification_id=note.id, channel="webhook")
    return delivery


@pytest.mark.committing
@pytest.mark.parametrize("url", ["http://127.0.0.1:5102/healthz", "https://169.254.169.254/latest/meta-data",
                                 "https://[::1]/robot", "http://oapi.dingtalk.com/robot/send",
                                 "https://robot.example.cn/hook", "https://oapi.dingtalk.com/robot/send"])
def test_a_stored_internal_address_is_refused_at_send_time(url, make_user, make_department, dns, no_connections):
    """A row saved before the rule (or edited in the database): the worker refuses it and never connects."""
    dns["robot.example.cn"] = ["127.0.0.1"]
    dns["oapi.dingtalk.com"] = ["10.0.0.8"]  # a poisoned answer for a platform host
    dept = make_department()
    db.session.add(Webhook(department_id=dept.id, platform="dingtalk", url=url, secret="", active=True))
    db.session.commit()
    delivery = _raise(make_user, dept)
    assert process([delivery.id], now=NOW) == {"sent": 0, "retry": 0, "failed": 1}
    delivery = reloaded(delivery)
    assert delivery.status == FAILED and "refused" in delivery.last_error and "nothing was sent" in delivery.last_error
    assert no_connections == []


@pytest.mark.committing
def test_the_connection_goes_to_the_checked_address_whatever_dns_says_later(admin, make_user, make_department, dns,
                                                                            robots, monkeypatch):
    """DNS rebinding: the name is resolved once at send time and that checked address is connected to."""
    save_allowed_webhook_hosts(admin, "relay.intranet.example")
    dns["relay.intranet.example"] = ["10.20.30.40"]
    dept = make_department()
    db.session.add(Webhook(department_id=dept.id, platform="wecom", url="http://relay.intranet.example:8080/wecom",
                           secret="", active=True))
    db.session.commit()
    delivery = _raise(make_user, dept)
    dns.calls.clear()
    dns["relay.intranet.example"] = ["10.20.30.40"]
    connected = []
    receiver_port = robots.server.server_address[1]

    def to_receiver(address, port, timeout):
        connected.append((address, port))
        dns["relay.intranet.example"] = ["127.0.0.1"]  # a rebinding now would be too late
        return socket.create_connection(("127.0.0.1", receiver_port), timeout=timeout)

    monkeypatch.setattr(webhooks, "_open_socket", to_receiver)
    assert process([delivery.id], now=NOW) == {"sent": 1, "retry": 0, "failed": 0}
    assert connected == [("10.20.30.40", 8080)] and dns.calls == ["relay.intranet.example"]
    [(platform, _query, _body, accepted)] = robots.received
    assert platform == "wecom" and accepted
    assert reloaded(delivery).status == SENT


@pytest.mark.committing
def test_a_redirect_is_not_followed(admin, make_user, make_department):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        save_allowed_webhook_hosts(admin, "127.0.0.1")
        dept = make_department()
        db.session.add(Webhook(department_id=dept.id, platform="wecom", secret="", active=True,
                               url=f"http://127.0.0.1:{server.server_address[1]}/wecom"))
        db.session.commit()
        delivery = _raise(make_user, dept)
        assert process([delivery.id], now=NOW) == {"sent": 0, "retry": 0, "failed": 1}
        assert hits == ["/wecom"] and "redirect" in reloaded(delivery).last_error
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_is_refused_outside_the_test_configuration_even_when_allow_listed(app, monkeypatch):
    """Only the test configuration may post to its local receiver; a deployment never posts to itself."""
    assert check_target("http://127.0.0.1:5102/hook", allowed_hosts=["127.0.0.1"]).addresses == ("127.0.0.1",)
    monkeypatch.setitem(app.config, "PORTAL_WEBHOOK_TEST_LOOPBACK", False)
    for url in ("http://127.0.0.1:5102/healthz", "http://[::1]:5102/hook"):
        with pytest.raises(TargetRefused) as refused:
            check_target(url, allowed_hosts=["127.0.0.1", "::1"])
        assert refused.value.reason == "loopback"
