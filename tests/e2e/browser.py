"""Shared steps of the browser tests: a fresh browser context whose page records CSP reports, and logging in."""
from __future__ import annotations

PASSWORD = "demo1234"


def new_page(browser, live_server, **options):
    """(context, page) in Chinese, in Asia/Shanghai; ``page.csp_errors`` collects Content-Security-Policy reports."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return context, page


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")


def open_side_panel(page, ticket_id: int):
    """From the queue's list, open ticket ``ticket_id`` in the side panel; its ``#ticket-detail`` locator."""
    page.goto("/queue/")
    page.locator(f"#queue-list a[href='/queue/{ticket_id}']").first.click()
    drawer = page.locator("#ticket-drawer #ticket-detail")
    drawer.wait_for()
    return drawer
