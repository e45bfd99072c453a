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
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from flask_babel import gettext as _

from portal.core.errors import ServiceError
from portal.notify.mail import PermanentFailure, TemporaryFailure

PLATFORMS = {"wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书"}
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


def post(url: str, body: dict, timeout: float) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read(65536)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            raise PermanentFailure(f"HTTP {exc.code}") from exc
        raise TemporaryFailure(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TemporaryFailure(str(exc)) from exc
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
