"""The audit trail on a 375 px phone: the page never scrolls sideways (the table scrolls in its own box),
and it reads in Chinese words, not codes."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("username", ["admin", "quality"])
def test_the_audit_trail_fits_a_phone(browser, live_server, username):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 375, "height": 667}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill("demo1234")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + "/")
        page.goto("/admin/audit/")
        assert page.locator("#audit-events tbody tr").count() > 1
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
        box = page.locator(".audit-table").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
        actions = page.locator("#audit-events td.audit-action").all_inner_texts()
        assert actions and not any(text.startswith(("auth.", "user.", "department.")) for text in actions)
        # the date filters stay inside the screen
        for name in ("start", "end"):
            field = page.locator(f'input[name="{name}"]').bounding_box()
            assert field and field["x"] + field["width"] <= 375
    finally:
        context.close()
