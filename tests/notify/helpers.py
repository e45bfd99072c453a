"""Helpers of the notification tests: a real SMTP server (aiosmtpd), a real HTTP receiver for the
group-chat robots, and parsing of what arrived (Asia/Shanghai moments, ``sh``, are in tests/helpers.py)."""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from portal.extensions import db
from portal.notify.models import CapturedEmail, Delivery, Digest, Notification

SENDER = "服务质量门户 <quality@example.cn>"


# -- SMTP -----------------------------------------------------------------------------------------
class RecordingHandler:
    """Collects envelopes; counts EHLO/HELO (one per connection smtplib opens); refuses some recipients."""

    def __init__(self, refuse=()):
        self.envelopes = []
        self.greetings = 0
        self.refuse = {a.lower() for a in refuse}
        self.peers = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.greetings += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def messages(self):
        return [parse(e.content) for e in self.envelopes]

    def recipients(self) -> list[str]:
        return [r for e in self.envelopes for r in e.rcpt_tos]


@dataclass
class SMTPServer:
    port: int
    handler: RecordingHandler
    controller: Controller | None = None

    def start(self) -> "SMTPServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=5)
        self.controller.start()
        # Controller.start() connects once to check the server is up; that probe sends no EHLO.
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def raw_headers(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def raw_header(raw: bytes, name: str) -> bytes:
    """The header as it travelled (unfolded), e.g. b'=?utf-8?b?...?='."""
    unfolded = raw_headers(raw).replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    for line in unfolded.split(b"\r\n"):
        key, _sep, value = line.partition(b":")
        if key.lower() == name.lower().encode():
            return value.strip()
    raise AssertionError(f"no {name} header in {raw[:400]!r}")


# -- group-chat robots ----------------------------------------------------------------------------
def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_expected_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


@dataclass
class RobotReceiver:
    """An HTTP server playing the three platforms at /wecom, /dingtalk and /feishu, checking envelopes and
    signatures the way the platforms do, and answering as they do."""

    secrets: dict = field(default_factory=dict)
    received: list = field(default_factory=list)  # (platform, query dict, body dict, accepted)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "RobotReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                parts = urlsplit(self.path)
                platform = parts.path.strip("/").split("/")[0]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                answer = receiver.check(platform, query, body, self.headers.get("Content-Type", ""))
                receiver.received.append((platform, query, body, answer.get("errcode", answer.get("code")) == 0))
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def check(self, platform: str, query: dict, body, content_type: str) -> dict:
        if not content_type.startswith("application/json") or not isinstance(body, dict):
            return {"errcode": 40001, "errmsg": "bad body"} if platform != "feishu" else {"code": 9499, "msg": "bad body"}
        if platform == "wecom":
            md = body.get("markdown")
            if body.get("msgtype") != "markdown" or not isinstance(md, dict) or not isinstance(md.get("content"), str) \
                    or set(body) != {"msgtype", "markdown"}:
                return {"errcode": 40008, "errmsg": "invalid message type"}
            return {"errcode": 0, "errmsg": "ok"}
        if platform == "dingtalk":
            md = body.get("markdown")
            if body.get("msgtype") != "markdown" or not isinstance(md, dict) or not md.get("title") or not md.get("text"):
                return {"errcode": 40035, "errmsg": "缺少参数 markdown"}
            secret = self.secrets.get("dingtalk")
            if secret:
                ts, sign = query.get("timestamp", ""), query.get("sign", "")
                if not ts.isdigit() or len(ts) != 13 or sign != dingtalk_expected_sign(secret, ts):
                    return {"errcode": 310000, "errmsg": "sign not match"}
            return {"errcode": 0, "errmsg": "ok"}
        if platform == "feishu":
            card = body.get("card") or {}
            title = ((card.get("header") or {}).get("title") or {})
            if body.get("msg_type") != "interactive" or title.get("tag") != "plain_text" or not title.get("content") \
                    or not isinstance(card.get("elements"), list):
                return {"code": 9499, "msg": "Bad Request"}
            secret = self.secrets.get("feishu")
            if secret:
                ts, sign = str(body.get("timestamp", "")), body.get("sign", "")
                if not ts.isdigit() or len(ts) != 10 or sign != feishu_expected_sign(secret, ts):
                    return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            return {"code": 0, "msg": "success", "data": {}}
        return {"errcode": 404, "errmsg": "unknown robot"}


# -- database -------------------------------------------------------------------------------------
def deliveries(**where) -> list[Delivery]:
    stmt = sa.select(Delivery).order_by(Delivery.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Delivery, key) == value)
    return list(db.session.scalars(stmt))


def email_deliveries_of(note: Notification) -> list[Delivery]:
    return deliveries(notification_id=note.id, channel="email")


def captured() -> list[CapturedEmail]:
    return list(db.session.scalars(sa.select(CapturedEmail).order_by(CapturedEmail.id)))


def digests() -> list[Digest]:
    return list(db.session.scalars(sa.select(Digest).order_by(Digest.user_id)))
