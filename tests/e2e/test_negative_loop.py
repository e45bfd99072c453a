"""The 差评 loop in a real browser against the real server: the head of 客服部 opens a 差评 in the list's side panel,
records the rectification with a PNG uploaded through htmx (multipart) and files an appeal with a PDF; the quality
manager opens 申诉复核, fails once with a wrong password, then upholds it; the ticket page shows the upheld appeal.
The pages fit a phone, axe finds nothing serious, and no CSP report."""
from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import log_in, new_page, open_side_panel
from tests.e2e.test_pages_phone_a11y import _axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
QM = "quality"


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, format="PNG")
    return out.getvalue()


def test_rectify_appeal_and_uphold(browser, live_server):
    data = live_server.run_seed("tests.e2e.seed_queue")
    ticket = data["ticket_id"]
    head_context, head = new_page(browser, live_server)
    log_in(head, live_server, data["head"])
    panel = open_side_panel(head, ticket).locator(f"#negative-loop-{ticket}")
    panel.locator("#rect-note").fill("已对窗口人员进行服务规范培训")
    panel.locator("#rect-files").set_input_files(files=[{"name": "培训现场.png", "mimeType": "image/png",
                                                          "buffer": _png()}])
    panel.locator("form[action$='/rectify'] button[type=submit]").click()
    expect(head.locator(f"#ticket-drawer #negative-loop-{ticket}")).to_contain_text("培训现场.png")
    panel = head.locator(f"#ticket-drawer #negative-loop-{ticket}")
    panel.locator("#appeal-grounds-1").check()
    panel.locator("#appeal-reason").fill("同一号码一小时内连续差评")
    panel.locator("#appeal-files").set_input_files(files=[{"name": "监控记录.pdf", "mimeType": "application/pdf",
                                                            "buffer": PDF}])
    panel.locator("form[action$='/appeal'] button[type=submit]").click()
    expect(head.locator(f"#ticket-drawer #negative-loop-{ticket}")).to_contain_text("申诉待复核")

    qm_context, qm = new_page(browser, live_server)
    log_in(qm, live_server, QM)
    qm.locator("nav .dropdown-toggle", has_text="客户意见").click()  # the 客户意见 menu holds 申诉复核
    qm.locator("nav a[href='/queue/appeals']").first.click()
    card = qm.locator("article", has_text="同一号码一小时内连续差评")
    card.wait_for()
    assert "监控记录.pdf" in card.inner_text() and "申诉复核" in card.inner_text()
    card.locator("input[value=uphold]").check()
    card.locator("textarea").fill("监控证实为恶意差评")
    card.locator("input[type=password]").fill("wrong-password")
    card.locator("button[type=submit]").click()
    expect(qm.locator("#appeal-review .invalid-feedback")).to_be_visible()  # the password was wrong
    card = qm.locator("article", has_text="同一号码一小时内连续差评")
    card.locator("input[value=uphold]").check()
    card.locator("textarea").fill("监控证实为恶意差评")
    card.locator("input[type=password]").fill("demo1234")
    card.locator("button[type=submit]").click()
    expect(qm.locator("#appeal-review table")).to_contain_text("监控证实为恶意差评")

    head.goto(f"/queue/{ticket}")
    expect(head.locator(f"#negative-loop-{ticket}")).to_contain_text("申诉成立")
    head.set_viewport_size({"width": 375, "height": 667})
    qm.set_viewport_size({"width": 375, "height": 667})
    for page, path in ((head, f"/queue/{ticket}"), (qm, "/queue/appeals"), (qm, "/queue/appeals/rates")):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert _axe_problems(page) == [], path
    assert head.csp_errors == [] and qm.csp_errors == []
    head_context.close()
    qm_context.close()
