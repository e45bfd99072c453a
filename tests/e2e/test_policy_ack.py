"""The quality policy end to end: the quality manager drafts a version, the head of the quality department
signs it (never the author), the quality manager publishes it after confirming; 张三 is notified and
acknowledges it; 客服部's acknowledgement count moves on the rates page."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STATEMENT = "以客户为中心，规范服务，持续改进，追求卓越（浏览器测试版）"
BODY = "客户满意是我们工作的出发点和落脚点。\n\n全体员工严格执行服务标准和操作规程。"


@pytest.fixture(scope="module")
def policy_server(live_server):
    """The shared live server (the real portal with the demo data)."""
    return live_server


def new_page(browser, base_url: str):
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return context, page


def log_in(page, base_url: str, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo1234")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base_url + "/")


def kf_counts(page) -> tuple[int, int]:
    """(acknowledged, active users) of 客服部 on the rates page."""
    page.goto("/quality/policy/acknowledgements")
    row = page.locator("#rate-table tbody tr").filter(has=page.get_by_role("cell", name="客服部", exact=True))
    assert row.count() == 1
    return int(row.get_attribute("data-acknowledged")), int(row.get_attribute("data-active"))


def test_publish_acknowledge_and_watch_the_rate_move(browser, policy_server):
    base = policy_server.url
    manager_context, page = new_page(browser, base)
    try:
        _run(browser, base, page)
    finally:
        manager_context.close()


def _run(browser, base, page):
    log_in(page, base, "quality")

    # draft (from the published text when there is one), approve with the password, publish
    page.goto("/quality/policy/versions")
    if page.locator("#open-version-link").count():  # a version left in preparation: carry on with it
        page.locator("#open-version-link").click()
        if page.locator("#edit-draft").count():
            page.locator("#edit-draft").click()
    else:
        page.locator("#new-draft-link").click()
    if page.locator("#policy-form").count():
        page.locator("#title").fill(STATEMENT)
        page.locator("#body").fill(BODY)
        page.locator("#save-draft").click()
        page.wait_for_selector("#policy-detail")
    assert page.locator("#policy-status").get_attribute("data-status") in ("draft", "approved")
    draft_url = page.url
    if page.locator("#policy-status").get_attribute("data-status") == "draft":
        assert page.locator("#approve-form").count() == 0 and page.locator("#own-draft").count() == 1  # four eyes
        signer_context, signer = new_page(browser, base)
        try:
            log_in(signer, base, "head_qa")
            signer.goto(draft_url)
            signer.locator("#approve-form #password").fill("wrong-password")
            signer.locator("#approve-button").click()
            signer.wait_for_selector("#approve-form .invalid-feedback")  # refused in place, nothing signed
            assert signer.locator("#policy-status").get_attribute("data-status") == "draft"
            signer.locator("#approve-form #password").fill("demo1234")
            signer.locator("#approve-button").click()
            signer.wait_for_selector("#publish-button")
        finally:
            signer_context.close()
        page.reload()
    assert page.locator("#policy-status").get_attribute("data-status") == "approved"
    assert page.locator("#policy-signatures").inner_text().count("陈思远") == 1
    confirmations = []
    page.once("dialog", lambda dialog: (confirmations.append(dialog.message), dialog.accept()))
    page.locator("#publish-button").click()
    page.wait_for_url(base + "/quality/policy/")
    assert confirmations and "全体员工" in confirmations[0]
    assert page.locator("#policy-title").inner_text() == STATEMENT
    acknowledged_before, active = kf_counts(page)
    assert active > acknowledged_before

    # 张三 sees the policy on the home page and acknowledges it, twice (a double click changes nothing)
    context, other = new_page(browser, base)
    try:
        log_in(other, base, "zhangsan")
        assert STATEMENT in other.locator("#home-policy").inner_text()
        other.goto("/notifications")
        assert "新版质量方针已发布" in other.locator("main").inner_text()
        other.goto("/")
        other.locator("#home-policy-read").click()
        other.wait_for_url(base + "/quality/policy/")
        assert "全体员工严格执行服务标准和操作规程。" in other.locator("#policy-current").inner_text()
        other.locator("#acknowledge-button").dblclick()
        other.wait_for_selector("#policy-acknowledged")
        assert other.locator("#acknowledge-button").count() == 0
        other.goto("/")
        assert other.locator("#home-policy-read").count() == 0
        assert other.csp_errors == []
    finally:
        context.close()

    acknowledged_after, active_after = kf_counts(page)
    assert (acknowledged_after, active_after) == (acknowledged_before + 1, active)
    assert page.csp_errors == []
