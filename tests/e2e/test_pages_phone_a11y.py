"""Every page the demo roles reach, in Chromium at 375 × 667 (a phone): no page scrolls sideways, axe-core
finds no serious or critical violation (at 375 px and again at 1280 px, where the navigation is expanded),
and the CSP reports nothing.

The pages are not listed here: for each role the crawl starts at 我的待办, follows every link of the
navigation (top bar and menus) and then the links inside <main> of those pages (detail pages), keeping one
URL per shape (digits replaced), so pages added later are covered without editing this test.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AXE = (Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
ROLES = ("admin", "quality", "head_kf", "zhangsan")
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
# Not pages: downloads, the language switch and logout are forms or files.
SKIP = re.compile(r"\.(xlsx|csv|pdf|ico|svg|png)$|/export|/download|/logout|/static/|/healthz")
MAX_PAGES_PER_ROLE = 80


def _log_in(page, live_server, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo1234")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")


def _links(page, selector: str, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.href)")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path or SKIP.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path.split("?")[0]) + ("?" if "?" in path else "")


def _axe_problems(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)  # evaluated by the DevTools protocol, not a <script>: the CSP stays as served
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def _crawl(page, live_server, username: str) -> dict[str, dict]:
    origin = live_server.url
    _log_in(page, live_server, username)
    queue = ["/"] + _links(page, "nav a[href]", origin)
    nav_pages = set(queue)
    seen_shapes: set[str] = set()
    report: dict[str, dict] = {}
    while queue and len(report) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = page.goto(path)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        page.wait_for_load_state("load")
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        problems = _axe_problems(page)
        # and on a desktop, where the navigation bar is expanded (its contrast, its focus)
        page.set_viewport_size(DESKTOP)
        problems += [f"desktop: {p}" for p in _axe_problems(page)]
        page.set_viewport_size(PHONE)
        report[path] = {"widths": widths, "axe": problems}
        if path == "/":  # the collapsed navigation, opened on the phone
            page.locator(".navbar-toggler").click()
            page.locator("#nav-main.show").wait_for()
            page.wait_for_timeout(400)  # the collapse animation
            report["/ (menu open)"] = {"widths": page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"),
                                       "axe": _axe_problems(page)}
        if path in nav_pages:  # detail pages one level down, from the list pages
            queue.extend(p for p in _links(page, "main a[href]", origin) if _shape(p) not in seen_shapes)
    return report


@pytest.mark.parametrize("username", ROLES)
def test_no_page_scrolls_sideways_on_a_phone_and_axe_finds_nothing_serious(browser, live_server, username, tmp_path):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE)
    page = context.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        report = _crawl(page, live_server, username)
    finally:
        context.close()
    assert len(report) >= 5, report  # the crawl found the navigation
    too_wide = {path: r["widths"] for path, r in report.items() if r["widths"][0] > r["widths"][1]}
    axe = {path: r["axe"] for path, r in report.items() if r["axe"]}
    assert (too_wide, axe, csp_errors) == ({}, {}, []), (
        f"{username}, {len(report)} pages: wider than the phone {too_wide}; "
        f"axe-core serious/critical violations {axe}; CSP {csp_errors}")
