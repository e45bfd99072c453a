"""Keyboard only, in Chromium: the skip link, a navigation dropdown opened with Space, and a matrix cell
edited without a mouse (Tab to a cell, Enter opens the editor with focus in it, choose a letter, save,
focus returns to the cell; Space opens another, Escape closes it)."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _zh(msgid: str) -> str:
    """The Chinese the portal shows for ``msgid`` (the compiled catalog; the msgid until it is translated)."""
    from babel.support import Translations

    return Translations.load(str(ROOT / "portal" / "translations"), ["zh_Hans_CN"]).gettext(msgid)


def _log_in(page, live_server, username="quality"):
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo1234")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")


def _active(page, script: str):
    return page.evaluate(f"(() => {{ const el = document.activeElement; return {script}; }})()")


def _tab_until(page, selector: str, limit: int = 80) -> int:
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if _active(page, f"el && el.matches({selector!r})"):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} Tab presses")


def test_skip_link_and_space_opens_a_dropdown(page, live_server):
    _log_in(page, live_server)
    page.keyboard.press("Tab")
    assert _active(page, "el.classList.contains('skip-link')")
    expect(page.locator(".skip-link")).to_be_visible()
    expect(page.locator(".skip-link")).to_have_text(_zh("Skip to main content"))  # 跳到主要内容
    page.keyboard.press("Enter")
    assert _active(page, "el.id") == "main"

    page.goto("/")
    _tab_until(page, "#user-menu")
    outline = _active(page, "getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # the focus is visible on the blue bar
    page.keyboard.press("Space")
    expect(page.locator("#user-menu + .dropdown-menu")).to_be_visible()
    assert page.locator("#user-menu").get_attribute("aria-expanded") == "true"
    assert page.csp_errors == []


def test_edit_a_matrix_cell_with_the_keyboard_only(page, live_server):
    _log_in(page, live_server)
    page.goto("/quality/matrix/")
    page.locator("#raci-grid").wait_for()
    presses = _tab_until(page, ".cell-btn")
    print(f"\nTab presses to the first matrix cell: {presses}")
    assert presses < 40, presses  # the grid is reached by the skip link, nav, filters: not 162 presses
    # each cell is named by its department, its process and its role, not by the letter alone
    name = _active(page, "el.getAttribute('aria-label')")
    assert re.fullmatch(r".+ · .+: (R|A|C|I)? ?.+", name), name
    # move to a cell that is C or I (Tab through the row)
    while _active(page, "el.textContent.trim()") not in ("C", "I"):
        page.keyboard.press("Tab")
        assert _active(page, "el.matches('.cell-btn')")
    cell_id = _active(page, "el.parentElement.id")
    grid_box = page.locator("#raci-grid table").bounding_box()

    page.keyboard.press("Enter")
    editor = page.locator(f"#{cell_id}.cell-editing")
    editor.wait_for()
    page.wait_for_function(f"document.activeElement && document.activeElement.closest('#{cell_id}.cell-editing') !== null")
    assert _active(page, "el.tagName") == "SELECT"
    assert page.locator("#raci-grid table").bounding_box()["width"] == grid_box["width"]  # the grid did not move
    page.keyboard.press("Home")  # "—", the first option; R comes next
    page.keyboard.press("ArrowDown")
    assert _active(page, "el.value") == "R"
    page.keyboard.press("Tab")
    assert _active(page, "el.type") == "submit"
    with page.expect_response(lambda r: r.request.method == "POST" and "/quality/matrix/cell/" in r.url) as posted:
        page.keyboard.press("Enter")
    assert posted.value.status == 200
    expect(page.locator(f"#{cell_id}.cell-editing")).to_have_count(0)
    page.wait_for_function(f"document.activeElement && document.activeElement.matches('#{cell_id} .cell-btn')")
    assert _active(page, "el.textContent.trim()") == "R"
    assert ": R " in _active(page, "el.getAttribute('aria-label')")

    # Space opens the next cell's editor; Escape cancels it and focus comes back
    page.keyboard.press("Tab")
    other_id = _active(page, "el.parentElement.id")
    page.keyboard.press("Space")
    page.locator(f"#{other_id}.cell-editing select").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'SELECT'")
    page.keyboard.press("Escape")
    expect(page.locator(f"#{other_id}.cell-editing")).to_have_count(0)
    page.wait_for_function(f"document.activeElement && document.activeElement.matches('#{other_id} .cell-btn')")
    assert page.csp_errors == []
