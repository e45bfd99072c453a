"""Edit one cell of the responsibility matrix in place, in a real browser against the real server.

The demo seed has 20 processes with a complete matrix; the quality manager ('quality') edits every cell.
The page must not reload: a plain JS property set on ``window`` before the edit is still there after it.
"""
import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MARKER = "matrix-edit-no-reload"


def _log_in(page, live_server, username: str = "quality", password: str = "demo1234") -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")


def test_quality_manager_changes_a_cell_without_reload(page, live_server, tmp_path):
    _log_in(page, live_server)
    page.goto("/quality/matrix/")
    grid = page.locator("#raci-grid")
    grid.wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#raci-grid tbody tr[id^='row-']").count() == 20

    # a cell that is C or I
    button = page.locator("#raci-grid .cell-btn.role-C, #raci-grid .cell-btn.role-I").first
    before = button.inner_text().strip()
    assert before in ("C", "I")
    cell_id = button.locator("xpath=..").get_attribute("id")
    assert re.fullmatch(r"c-\d+-\d+", cell_id)
    process_id = cell_id.split("-")[1]
    badge = page.locator(f"#badge-{process_id}")
    badge_before = badge.get_attribute("class")

    page.evaluate(f"window.__portalMarker = '{MARKER}'")
    button.click()

    # (while htmx swaps, the old and the new element briefly share the id: select the editor itself)
    editor = page.locator(f"#{cell_id}.cell-editing")
    select = editor.locator("select[name='role']")
    select.wait_for()
    expect(select).to_have_value(before)
    select.select_option("R")
    with page.expect_response(lambda r: r.request.method == "POST" and "/quality/matrix/cell/" in r.url) as posted:
        editor.get_by_role("button", name=re.compile("保存|Save")).click()
    assert posted.value.status == 200

    saved = page.locator(f"#{cell_id} .cell-btn")
    expect(saved).to_have_text("R")
    expect(saved).to_have_class(re.compile(r"\brole-R\b"))
    expect(page.locator(f"#{cell_id}.cell-editing")).to_have_count(0)  # the editor is gone
    assert page.evaluate("window.__portalMarker") == MARKER  # no full page reload happened
    expect(badge).to_have_class(badge_before)  # still one A: the badge stays valid (swapped out of band)
    assert page.url.rstrip("/").endswith("/quality/matrix")
    page.screenshot(path=str(tmp_path / "matrix-edited.png"), full_page=False)

    page.reload()
    page.locator("#raci-grid").wait_for()
    assert page.evaluate("window.__portalMarker") is None  # a reload does clear it
    persisted = page.locator(f"#{cell_id} .cell-btn")
    assert persisted.inner_text().strip() == "R"
    assert "role-R" in persisted.get_attribute("class").split()
    assert page.csp_errors == []
