"""The queue in a real browser against the real server: the head of 客服部 assigns a 差评 to 张三 from the list's
side panel, 张三 replies and resolves it, the customer sees the reply on the 查询码 page and rates the handling
poorly, and the ticket is back in progress. No CSP report on these pages."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import log_in, new_page, open_side_panel
from tests.e2e.test_pages_phone_a11y import _axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_assign_reply_and_the_customer_rates(browser, live_server):
    data = live_server.run_seed("tests.e2e.seed_queue")
    ticket = data["ticket_id"]
    head_context, head = new_page(browser, live_server)
    log_in(head, live_server, data["head"])
    drawer = open_side_panel(head, ticket)
    assert data["comment"] in drawer.inner_text()
    drawer.locator("#as-assignee_id").select_option(str(data["employee_id"]))
    drawer.locator("form[action$='/assign'] button[type=submit]").click()
    expect(head.locator("#ticket-detail dl")).to_contain_text("张三")

    context, page = new_page(browser, live_server)
    log_in(page, live_server, data["employee"])
    page.goto(f"/queue/{ticket}")
    page.locator("#reply-text").fill("您好，已为您加开窗口，给您带来不便深表歉意。")
    page.locator("form[action$='/reply'] button[type=submit]").click()
    expect(page.locator("#ticket-history")).to_contain_text("加开窗口")
    page.locator("form[action$='/status'] input[value=resolved] ~ button").click()
    expect(page.locator("form[action$='/status'] input[value=resolved]")).to_have_count(0)

    customer_context, customer = new_page(browser, live_server)
    customer.goto(f"/q/{data['query_code']}")
    assert "加开窗口" in customer.inner_text("body")
    customer.locator("label[for=rating-1]").click()
    customer.locator("button.send").click()
    expect(customer.locator("label[for=rating-1]")).to_have_count(0)

    page.reload()
    assert page.locator("form[action$='/status'] input[value=resolved]").count() == 1  # in progress again
    # the ticket page and the list, on a phone: nothing scrolls sideways, axe finds nothing serious
    page.set_viewport_size({"width": 375, "height": 667})
    for path in (f"/queue/{ticket}", "/queue/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert _axe_problems(page) == [], path
    assert page.csp_errors == [] and head.csp_errors == [] and customer.csp_errors == []
    for c in (context, head_context, customer_context):
        c.close()
