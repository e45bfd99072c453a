"""Group-chat robots: 企业微信 (WeCom), 钉钉 (DingTalk) and 飞书 (Feishu/Lark).

Each platform takes markdown in its own envelope. DingTalk and Feishu can require a signing secret:
DingTalk signs ``timestamp\\nsecret`` with HMAC-SHA256 keyed by the secret and passes ``timestamp`` and
``sign`` in the query string; Feishu signs an empty message with the key ``timestamp\\nsecret`` and puts
``timestamp`` and ``sign`` in the JSON body.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import gettext as _

from portal.core.errors import ServiceError
from portal.notify.mail import PermanentFailure, TemporaryFailure

PLATFORMS = {"wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书"}
#: The platforms' robot hosts: allowed without configuration, over https only, to public addresses only.
DEFAULT_HOSTS = frozenset({"qyapi.weixin.qq.com", "oapi.dingtalk.com", "open.feishu.cn", "open.larksuite.com"})
HOST_NAME_RE = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
#: "Too many messages" answers: WeCom 45009, DingTalk 130101, Feishu 11232 and 9499.
RATE_LIMIT_CODES = {45009, 130101, 11232, 9499}
#: WeCom refuses markdown over 4096 bytes; stay under it for every platform.
MAX_MARKDOWN_BYTES = 4000


def _clip(markdown: str) -> str:
    data = markdown.encode("utf-8")
    if len(data) <= MAX_MARKDOWN_BYTES:
        return markdown
    return data[:MAX_MARKDOWN_BYTES].decode("utf-8", errors="ignore") + "…"


def validate_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a malformed IPv6 host, or a port that is not a number from 1 to 65535
        valid = False
    if not valid or len(url) > 500 or any(c.isspace() for c in url):
        raise ServiceError(("url", _("Enter the robot's full webhook address, starting with https://.")))
    return url


# -- where a robot may post to -------------------------------------------------------------------
class TargetRefused(Exception):
    """The webhook address is not one the portal may post to. ``reason`` is one of: scheme, host,
    loopback, private, link-local, multicast, unspecified, unresolvable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Target:
    """A checked webhook address: post to ``addresses`` (already checked), never resolve ``host`` again."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def normalize_host(text: str) -> str | None:
    """A host as the allow-list stores it (lower case, IP addresses in canonical form), or None."""
    host = (text or "").strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    return host if HOST_NAME_RE.fullmatch(host) else None


def _loopback_permitted() -> bool:
    return has_app_context() and bool(current_app.config.get("PORTAL_WEBHOOK_TEST_LOOPBACK"))


def _address_problem(address: str, *, allow_listed: bool, literal_allowed: bool) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_link_local:  # 169.254.0.0/16 (cloud metadata), fe80::/10
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_loopback:
        # Never in a deployment: the portal's own machine (its /healthz, Redis, PostgreSQL …) is not a robot.
        # The test configuration alone may post to a local receiver that is allow-listed by its literal address.
        return None if literal_allowed and _loopback_permitted() else "loopback"
    if not ip.is_global:  # RFC 1918, fc00::/7, 100.64.0.0/10, reserved …
        return None if allow_listed else "private"
    return None


def check_target(url: str, allowed_hosts=(), resolve=None, *, saving: bool = False) -> Target:
    """Check a webhook address, resolving its host once; raise TargetRefused when it may not be used.

    The robot hosts of the three platforms need https and public addresses. Any other host must be on the
    administrators' allow-list (then http is allowed and private addresses are too). Every address the
    name resolves to must pass, so a name that also resolves to an internal address is refused.

    ``saving``: a platform robot host that does not resolve from here (yet) may be saved; it is checked
    again, resolved, before every send.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        explicit_port = parts.port
    except ValueError:  # a malformed IPv6 host or port
        raise TargetRefused("host", url) from None
    scheme = parts.scheme.lower()
    host = normalize_host(parts.hostname or "")
    if scheme not in ("http", "https") or host is None:
        raise TargetRefused("scheme" if host else "host", url)
    allowed = {h for h in (normalize_host(a) for a in allowed_hosts) if h}
    allow_listed = host in allowed
    if not allow_listed:
        if host not in DEFAULT_HOSTS:
            raise TargetRefused("host", host)
        if scheme != "https":
            raise TargetRefused("scheme", scheme)
    port = explicit_port or (443 if scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal.compressed]
    else:
        try:
            infos = (resolve or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            infos = []
            if not (saving and host in DEFAULT_HOSTS):
                raise TargetRefused("unresolvable", f"{host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not addresses and not (saving and host in DEFAULT_HOSTS):
            raise TargetRefused("unresolvable", host)
    for address in addresses:
        problem = _address_problem(address, allow_listed=allow_listed,
                                   literal_allowed=allow_listed and literal is not None)
        if problem:
            raise TargetRefused(problem, f"{host} → {address}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port, path, tuple(addresses))


def refusal_message(exc: TargetRefused) -> str:
    """What the robot form says about a refused address."""
    if exc.reason == "scheme":
        return _("Robot addresses must start with https://.")
    if exc.reason == "host":
        return _("Only the WeCom, DingTalk and Feishu robot hosts (qyapi.weixin.qq.com, oapi.dingtalk.com, "
                 "open.feishu.cn, open.larksuite.com) are allowed. Add any other host to the allowed hosts "
                 "first.")
    if exc.reason == "unresolvable":
        return _("The host name of this address cannot be resolved.")
    return _("This address points into the portal's own network (%(detail)s) and is not allowed.",
             detail=exc.detail)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build_request(platform: str, url: str, secret: str, title: str, markdown: str,
                  now: float | None = None) -> tuple[str, dict]:
    """The URL to post to and the JSON body, for one markdown message."""
    now = time.time() if now is None else now
    markdown = _clip(markdown)
    if platform == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{markdown}"}}
    if platform == "dingtalk":
        if secret:
            ts = int(now * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={urllib.parse.quote_plus(dingtalk_sign(secret, ts))}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n{markdown}"}}
    if platform == "feishu":
        body = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "markdown", "content": markdown}],
            },
        }
        if secret:
            ts = int(now)
            body.update(timestamp=str(ts), sign=feishu_sign(secret, ts))
        return url, body
    raise ValueError(f"unknown platform {platform!r}")


def _open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to an address that check_target has already checked."""
    return socket.create_connection((address, port), timeout=timeout)


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return _open_socket(address, port, timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked addresses only: a DNS answer that changes after the check (rebinding) is
    never looked up, so it cannot redirect the request."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = target.addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        # The certificate is verified against the host name (and SNI sent for it), not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: dict, timeout: float, allowed_hosts=()) -> None:
    """Post one message, checking the address again first (it may have been saved before a rule changed,
    or its name may resolve elsewhere now). A refused address fails for good; redirects are not followed."""
    try:
        target = check_target(url, allowed_hosts)
    except TargetRefused as exc:
        if exc.reason == "unresolvable":
            raise TemporaryFailure(f"webhook host not resolvable: {exc.detail}") from exc
        raise PermanentFailure(f"webhook address refused ({exc.reason}): {exc.detail}; nothing was sent") from exc
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target, timeout)
    try:
        connection.request("POST", target.path, body=data,
                           headers={"Content-Type": "application/json; charset=utf-8"})
        response = connection.getresponse()
        status = response.status
        payload = response.read(65536)
    except (OSError, http.client.HTTPException) as exc:
        raise TemporaryFailure(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()
    if 300 <= status < 400:
        raise PermanentFailure(f"HTTP {status}: the robot answered with a redirect, which is not followed")
    if status >= 400:
        if status < 500 and status != 429:
            raise PermanentFailure(f"HTTP {status}")
        raise TemporaryFailure(f"HTTP {status}")
    # The platforms answer 200 with an error code in the body (e.g. a bad signature). Rate limits are
    # temporary: the delivery is retried with backoff.
    try:
        answer = json.loads(payload or b"{}")
    except ValueError:
        return
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code in RATE_LIMIT_CODES or str(code) in {str(c) for c in RATE_LIMIT_CODES}:
        raise TemporaryFailure(f"robot rate limit: {answer}")
    if code not in (0, None, "0"):
        raise PermanentFailure(f"robot refused the message: {answer}")
