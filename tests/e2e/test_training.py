"""Training in a real browser against the real server (the demo data): an employee opens an assigned document,
ticks 已阅读并理解 and signs with their password (a wrong one first: an error, nothing signed), and the cell of that
document turns ✓ in their department head's training matrix. No CSP report on these pages."""
from __future__ import annotations

import pytest

from tests.e2e.browser import PASSWORD, log_in, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.slow]




def _cell(page, data: dict):
    """The matrix cell of the seeded person and document."""
    headers = page.locator("#training-matrix thead th")
    codes = [headers.nth(i).inner_text().split("\n")[0].strip() for i in range(headers.count())]
    column = codes.index(data["code"])  # the first header is the people's column
    return page.locator(f"#person-{data['user_id']} > td").nth(column - 1)


def test_an_employee_signs_and_the_heads_matrix_shows_it_done(browser, live_server):
    data = live_server.run_seed("tests.e2e.seed_training")
    head_context, head = new_page(browser, live_server)
    log_in(head, live_server, data["head"])
    head.goto(f"/training/matrix?dept={data['dept_id']}")
    assert _cell(head, data).get_attribute("data-state") in ("pending", "overdue")

    context, page = new_page(browser, live_server)
    log_in(page, live_server, data["username"])
    page.goto("/training/")
    page.get_by_role("link", name=data["code"]).first.click()
    page.locator("#read-document").click()
    page.locator("#signoff").wait_for()
    page.get_by_label("我已阅读并理解本文件").check()
    page.get_by_label("您的密码").fill("not-my-password")
    page.locator("#sign-training").click()
    assert "密码错误" in page.locator("#signoff").inner_text()
    assert "待完成" in page.locator("#assignment-status").inner_text()

    page.get_by_label("我已阅读并理解本文件").check()
    page.get_by_label("您的密码").fill(PASSWORD)
    page.locator("#sign-training").click()
    page.wait_for_url(f"**/training/a/{data['assignment_id']}")
    assert "已完成" in page.locator("#assignment-status").inner_text()

    head.reload()
    cell = _cell(head, data)
    assert cell.get_attribute("data-state") == "done"
    assert "✓" in cell.inner_text()
    assert page.csp_errors == [] and head.csp_errors == []
    context.close()
    head_context.close()
