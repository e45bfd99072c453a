"""No English in the Chinese interface: every page the demo roles reach (from the navigation, and the links
on those pages) is read as text, and no English word may appear except names, codes and the language
switch. Also the words the first trial found wrong."""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest

from portal.extensions import db
from tests.helpers import HX, client_for

pytestmark = pytest.mark.slow

DEMO_PASSWORD = "demo1234"
ROLES = ("admin", "quality", "head_kf", "zhangsan")
#: Words that are not English prose: the language switch, codes, standards, file types, protocols, brands.
ALLOWED = {
    "English", "SHA", "IP", "ISO", "GB", "RACI", "xlsx", "csv", "CSV", "Excel", "SMTP", "STARTTLS", "SSL", "TLS",
    "HTML", "URL", "UTF", "GB18030", "ID", "Redis", "RQ", "WeCom", "DingTalk", "Feishu", "Lark", "HTTPS", "https",
    "http", "YYYY", "MM", "DD", "min", "demo", "webhook", "Webhook", "chinesecalendar", "PDF", "Word", "docx",
    "Markdown", "SOP", "API", "QR", "SVG", "NPS",
}
SKIP_PATH = re.compile(r"/(logout|export|[^/]*\.xlsx)|/language|/healthz|/static/")


def _visible_text(markup: str) -> str:
    markup = re.sub(r"<(script|style|svg|code|pre)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    # data shown as it is (a browser's user agent, a hash) is marked translate="no", as for browsers' translators
    markup = re.sub(r'<(\w+)\b[^>]*translate="no"[^>]*>.*?</\1>', " ", markup, flags=re.S)
    attrs = " ".join(re.findall(r'(?:aria-label|title|placeholder|alt|hx-confirm)="([^"]*)"', markup))
    text = re.sub(r"<[^>]+>", " ", markup) + " " + attrs
    text = html.unescape(text)
    text = re.sub(r"[\w.+-]+@[\w.-]+", " ", text)  # email addresses
    text = re.sub(r"https?://\S+|/[\w/.?=&%-]+", " ", text)  # addresses and paths
    text = re.sub(r"\b[\w-]+(?:\.[\w-]+)+\b", " ", text)  # host names (mail.example.cn)
    return text


def _english_words(text: str, names: set[str]) -> set[str]:
    words = set(re.findall(r"[A-Za-z][A-Za-z]{2,}", text))
    return {w for w in words if w not in ALLOWED and w not in names and w.lower() not in names}


def _links(markup: str) -> list[str]:
    out = []
    for href in re.findall(r'href="([^"#]+)"', markup):
        parts = urlsplit(html.unescape(href))
        if not parts.netloc and parts.path.startswith("/") and not SKIP_PATH.search(parts.path):
            out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


@pytest.fixture
def demo_org(app):
    from portal.core.registry import demo_seeders

    for seeder in demo_seeders:
        seeder.fn()
    db.session.commit()


def test_no_english_word_on_any_page_the_demo_roles_reach(app, demo_org):
    from portal.org.models import User

    users = {u.username: u for u in db.session.scalars(db.select(User))}
    # usernames, codes and names of records are data, not interface words
    names = {n.lower() for u in users.values() for n in re.findall(r"[A-Za-z]{3,}", u.username)}
    found: dict[str, set[str]] = {}
    visited = 0
    for username in ROLES:
        client = client_for(app, users[username], DEMO_PASSWORD)
        queue, seen = ["/"], set()
        while queue and len(seen) < 60:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.content_type:
                continue
            markup = response.get_data(as_text=True)
            for word in _english_words(_visible_text(markup), names):
                found.setdefault(word, set()).add(f"{username} {path}")
            queue += [link for link in _links(markup) if link not in seen]
        visited += len(seen)
    assert visited > 60
    assert found == {}, "\n".join(f"{w}: {sorted(p)[:3]}" for w, p in sorted(found.items()))


def test_the_words_the_first_trial_found_wrong(client_for, make_user, admin):
    from portal.notify.models import CapturedEmail

    email = CapturedEmail(to="a@example.cn", subject="主题", text="正文", html="<p>正文</p>", raw="")
    db.session.add(email)
    db.session.commit()
    client = client_for(admin)
    detail = client.get(f"/admin/notify/outbox/{email.id}").get_data(as_text=True)
    assert "收件人" in detail and "结束日期" not in detail
    jobs = client.get("/admin/notify/jobs").get_data(as_text=True)
    assert "sent:" not in jobs and "pending:" not in jobs
    from portal.core.errors import ServiceError

    joined = str(ServiceError(("a", "邮箱地址无效。"), ("b", "未知部门“研发部”。")))
    assert "。；" not in joined and joined == "邮箱地址无效。 未知部门“研发部”。"
    assert client.get("/notifications", headers=HX).status_code == 200
