"""Document control in a real browser against the real server (the demo data plus two documents seeded
through the services by tests/e2e/seed_sop.py):

* the head of the A department of the document's process signs 批准 with their password (a wrong one first:
  an error in the form, nothing signed), sees their name in the signature manifest and the version effective;
* an employee sees only the effective version of a revised document (the superseded one is a 404, not in the
  list of versions, and neither is its PDF nor the comparison); the quality manager sees the superseded
  version watermarked;
* no CSP report on any of these pages, and at 375 px none of them scrolls sideways.

The English words of new strings may not be translated yet: the test reads element ids, data attributes,
names and codes, and the messages through the catalog (``translated``).
"""
from __future__ import annotations


import pytest
from flask_babel import pgettext

from tests.helpers import translated

from tests.e2e.browser import PASSWORD, log_in, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


PHONE = {"width": 375, "height": 667}
BASE = "/quality/documents"


@pytest.fixture(scope="module")
def seeded(live_server) -> dict:
    """Two documents of 客户投诉处理 (SV-04) in the live server's database (see seed_sop.py)."""
    data = live_server.run_seed("tests.e2e.seed_sop")
    assert data["approval"]["status"] == "in_approval", data
    assert (data["history"]["old_status"], data["history"]["new_status"]) == ("superseded", "effective"), data
    return data


def _widths(page) -> list[int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def _fits_a_phone(page, url: str) -> None:
    """At 375 px the page does not scroll sideways (tables scroll inside their own box)."""
    page.set_viewport_size(PHONE)
    try:
        page.goto(url)
        page.wait_for_load_state("load")
        widths = _widths(page)
        assert widths[0] <= widths[1], f"{url} scrolls sideways on a phone: {widths}"
        box = page.locator("#document-page").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (url, box)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def _approve_rows(page):
    return page.locator("#signature-manifest tr[data-meaning='approve']")


def test_the_department_head_approves_with_a_password(browser, live_server, seeded, app):
    doc = seeded["approval"]
    # SV-04 in the matrix: A is 客服部, whose head is 李娜 (head_kf)
    assert (doc["a_department"], doc["approver_is_head"], doc["approver"]) == ("KF", True, "head_kf")
    url = f"{BASE}/{doc['document_id']}/versions/{doc['version_id']}"
    context, page = new_page(browser, live_server)
    try:
        log_in(page, live_server, doc["approver"])
        page.goto(url)
        assert page.locator("#version-status").get_attribute("data-status") == "in_approval"
        assert doc["code"] in page.locator("#document-page > div:first-child > h1").inner_text()
        assert doc["text"] in page.locator("#document-content").inner_text()
        reviewed = page.locator("#signature-manifest tr[data-meaning='review']")
        assert reviewed.count() == 1 and _approve_rows(page).count() == 0

        # a wrong password: refused in the form, nothing signed, still awaiting approval
        form = page.locator("#approve-form")
        form.locator("input[type='password']").fill("wrong-password")
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/approve")) as posted:
            page.locator("#approve-button").click()
        assert posted.value.status == 422
        error = page.locator("#approve-form .invalid-feedback")
        error.wait_for()
        assert translated(app, "The password is wrong: the signature was not applied.") in error.inner_html()
        assert page.locator("#version-status").get_attribute("data-status") == "in_approval"
        assert _approve_rows(page).count() == 0
        _fits_a_phone(page, url)  # the page with the approve and return forms

        # the right one: signed 批准 in their full name, effective today
        page.goto(url)
        page.locator("#approve-form input[type='password']").fill(PASSWORD)
        page.locator("#approve-button").click()
        page.locator("#version-status[data-status='effective']").wait_for()
        assert page.locator("#approve-form").count() == 0
        rows = _approve_rows(page)
        assert rows.count() == 1
        assert rows.locator("td.signer").inner_text().strip() == doc["approver_name"] == "李娜"
        assert "批准" in rows.locator("td").nth(1).inner_text()
        assert page.locator("#signature-manifest tr[data-meaning='review']").count() == 1
        page.reload()  # and it stays so
        assert page.locator("#version-status").get_attribute("data-status") == "effective"
        assert _approve_rows(page).count() == 1
        _fits_a_phone(page, url)
        assert page.csp_errors == []
    finally:
        context.close()


def test_an_employee_sees_only_the_effective_version(browser, live_server, seeded):
    doc = seeded["history"]
    document_url = f"{BASE}/{doc['document_id']}"
    old_url = f"{document_url}/versions/{doc['old_version_id']}"
    new_url = f"{document_url}/versions/{doc['new_version_id']}"
    context, page = new_page(browser, live_server)
    try:
        log_in(page, live_server, "zhangsan")
        response = page.goto(document_url)
        assert response.status == 200
        assert page.locator("#version-status").get_attribute("data-status") == "effective"
        assert f"v{doc['new_label']}" in page.locator("#version-status").inner_text()
        text = page.locator("#document-content").inner_text()
        assert doc["new_text"] in text and doc["old_text"] not in text
        assert page.locator("#document-content.watermark-void").count() == 0
        links = page.eval_on_selector_all("#versions a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert links == [new_url], links
        assert page.locator("#compare-link").count() == 0
        assert page.locator("#copies").count() == 0 and page.locator("#obsolete").count() == 0

        for url in (old_url, f"{document_url}/diff?a={doc['old_version_id']}&b={doc['new_version_id']}"):
            assert page.goto(url).status == 404, url
        assert page.request.get(old_url + "/pdf").status == 404  # a download, not a page
        assert page.goto(new_url).status == 200
        _fits_a_phone(page, document_url)
        assert page.csp_errors == []
    finally:
        context.close()


def test_the_quality_manager_sees_the_superseded_version_watermarked(browser, live_server, seeded, app):
    doc = seeded["history"]
    document_url = f"{BASE}/{doc['document_id']}"
    old_url = f"{document_url}/versions/{doc['old_version_id']}"
    context, page = new_page(browser, live_server)
    try:
        log_in(page, live_server, "quality")
        page.goto(document_url)
        links = page.eval_on_selector_all("#versions a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert old_url in links and len(links) == 2, links

        assert page.goto(old_url).status == 200
        assert page.locator("#version-status").get_attribute("data-status") == "superseded"
        content = page.locator("#document-content")
        assert "watermark-void" in content.get_attribute("class").split()
        with app.test_request_context("/"):
            word = pgettext("watermark", "Superseded")
        assert content.get_attribute("data-watermark") == word
        shown = page.evaluate("() => getComputedStyle(document.querySelector('#document-content'), '::after').content")
        assert word in shown  # the watermark is drawn over the text, not only an attribute
        assert doc["old_text"] in content.inner_text()
        assert page.locator("#signature-manifest tr[data-meaning='approve']").count() == 1
        assert page.locator("#compare-link").count() == 1
        _fits_a_phone(page, old_url)
        _fits_a_phone(page, document_url)  # with the controlled copies and the forms of the controller
        assert page.csp_errors == []
    finally:
        context.close()


def test_the_quality_manager_compares_the_two_versions(browser, live_server, seeded):
    doc = seeded["history"]
    context, page = new_page(browser, live_server)
    try:
        log_in(page, live_server, "quality")
        page.goto(f"{BASE}/{doc['document_id']}")
        with page.expect_navigation() as navigation:
            page.locator("#compare-link").click()
        assert navigation.value.status == 200, f"{page.url}: HTTP {navigation.value.status}"
        assert any(doc["old_text"] in text for text in page.locator("#diff td.diff-left").all_inner_texts())
        assert any(doc["new_text"] in text for text in page.locator("#diff td.diff-right").all_inner_texts())
        assert page.locator("#diff tr.diff-skip").count() >= 1  # the unchanged head of the text, folded
        diff_url = page.url
        page.set_viewport_size(PHONE)
        page.goto(diff_url)
        widths = _widths(page)
        assert widths[0] <= widths[1], f"the comparison scrolls sideways on a phone: {widths}"
        assert page.csp_errors == []
    finally:
        context.close()
