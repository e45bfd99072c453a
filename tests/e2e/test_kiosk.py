"""Customer feedback intake (issue 10) in Chromium against the real server: the kiosk form that customers open
by scanning a service point's QR code, without logging in (a point and a clerk's staff code are seeded through
the services by tests/e2e/seed_kiosk.py; rows are read from the live server's own database).

* On a phone (375 × 667, touch): no page scrolls sideways, in standard and in large text (?large=1): the form,
  the thank-you page and the 查询码 page; a customer taps a face, a category chip, types a comment and sends;
  the 查询码 is shown as XXXX-XXXX from the unambiguous alphabet and opens the status page. The filled form is
  saved as test-results/kiosk-phone.png (and, with PORTAL_README_SCREENSHOTS=1, as the README's
  docs/screenshots/kiosk-phone.png).
* Without JavaScript the form is a plain POST with the same thank-you page; one row.
* A double tap on 发送 stores one row (with htmx and as a plain POST).
* A tablet (?kiosk=1) that is offline keeps the rating in the browser and thanks the customer; back online it
  sends it once: one row, and no further POST after the next retry. Its thank-you screen returns to an empty form
  by itself. The tablet's timers (20 s reset, 10 s when idle, 30 s retry) run on Playwright's clock, paused and
  advanced by the test, so nothing here waits for them in real time.
* Keyboard: Tab reaches the faces, Space and the arrow keys choose one, the focus ring is visible (3:1 against
  the card), and the whole form can be sent from the keyboard.
* axe-core finds no serious or critical violation on the form, the thank-you page and the 查询码 page at 375 px;
  no CSP report and no console error on any kiosk page; no inline script or style attribute in their DOM; the
  whole kiosk page with its assets is under 40 KB gzipped.

Messages are compared through the catalog (``translated``), faces and chips found by their ids and values.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import pgettext
from sqlalchemy.pool import NullPool

from portal.feedback.codes import QUERY_ALPHABET
from tests.helpers import translated
from tests.livesrv import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AXE = (Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
PHONE = {"width": 375, "height": 667}
TABLET = {"width": 800, "height": 1280}
QUERY_CODE = re.compile(rf"[{QUERY_ALPHABET}]{{4}}-[{QUERY_ALPHABET}]{{4}}")
QUEUE_KEY = "portal-kiosk-queue"  # static/js/kiosk.js
RESET_MS, IDLE_MS, RETRY_MS = 20_000, 10_000, 30_000  # PORTAL_KIOSK_RESET_SECONDS (default); kiosk.js
#: The smallest text on a kiosk page, in CSS px: large text (适老化) makes every word larger, hints included.
SMALLEST_TEXT = {False: 12, True: 19}
ARTIFACTS = ROOT / "test-results"
README_SHOT = ROOT / "docs" / "screenshots" / "kiosk-phone.png"
MAX_SCREENSHOT_BYTES = 300 * 1024
README_COMMENT = "窗口工作人员耐心解答，手续很快办完了。"
MAX_PAGE_GZIPPED = 40 * 1024
#: Lost resources are expected while a test has taken the browser offline; nothing else may be logged as an error.
OFFLINE_NOISE = "net::ERR_INTERNET_DISCONNECTED"


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kiosk(live_server) -> dict:
    """A service point with four category chips and 张三's staff code, in the live server's database."""
    return live_server.run_seed("tests.e2e.seed_kiosk")


@pytest.fixture(scope="module")
def live_db(live_server):
    """The live server's own database (not the test session's), for counting what the kiosk stored."""
    engine = sa.create_engine(live_server.database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _rows(engine, comment: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT channel, rating, categories, is_spam, staff_code_id FROM feedback WHERE comment = :comment"),
            {"comment": comment}).mappings().all()
    return [dict(r, categories=json.loads(r["categories"]) if isinstance(r["categories"], str) else r["categories"])
            for r in rows]


def _wait_for_rows(engine, comment: str, count: int, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(engine, comment)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def _comment(what: str) -> str:
    return f"{what}（浏览器测试 {secrets.token_hex(3)}）"


def _context(browser, live_server, **options):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    page = context.new_page()
    page.csp_errors, page.console_errors = [], []

    def on_console(msg):
        if "Content Security Policy" in msg.text:
            page.csp_errors.append(msg.text)
        elif msg.type == "error" and OFFLINE_NOISE not in msg.text:
            page.console_errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: page.console_errors.append(f"uncaught: {exc}"))
    return context, page


def _phone(browser, live_server, **options):
    return _context(browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                    **options)


# -- checks ------------------------------------------------------------------------------------------------
def _axe_problems(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)  # through the DevTools protocol, not a <script>: the CSP stays as served
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _check_page(page, what: str, *, axe: bool = True) -> None:
    """At 375 px the page does not scroll sideways; nothing inline for the CSP to refuse; axe finds nothing
    serious. (A mobile browser zooms out rather than scroll, so the width itself is checked too.)"""
    page.wait_for_load_state("load")
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert (scroll <= inner, inner) == (True, PHONE["width"]), f"{what} scrolls sideways on a phone: {scroll} > {inner}"
    inline = page.evaluate("[document.querySelectorAll('script:not([src]), [style]').length,"
                           " document.querySelectorAll('style').length]")
    assert inline == [0, 0], f"{what}: inline script or style {inline}"
    if axe:
        assert _axe_problems(page) == [], what


def _smallest_text(page) -> list:
    """[font size in px, element] of the smallest visible words in <main>."""
    return page.evaluate("""() => {
        let smallest = [Infinity, ""];
        for (const el of document.querySelectorAll("main *")) {
            if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
            const box = el.getBoundingClientRect();
            if (!box.width || box.right <= 0) continue;  // hidden, or the honeypot parked off screen
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < smallest[0]) smallest = [size, el.tagName.toLowerCase() + "." + el.className];
        }
        return smallest;
    }""")


def _query_code(page) -> str:
    code = page.locator("#query-code").inner_text().strip()
    assert QUERY_CODE.fullmatch(code), code  # 8 of the unambiguous alphabet, XXXX-XXXX
    return code


def _received_label(app) -> str:
    with app.test_request_context("/"):
        return str(pgettext("feedback status", "Received"))


def _rate(page, rating: int, comment: str, category: str | None = None, *, tap: bool = False) -> None:
    act = (lambda locator: locator.tap()) if tap else (lambda locator: locator.click())
    act(page.locator(f"label[for='rating-{rating}']"))
    assert page.locator(f"#rating-{rating}").is_checked()
    if category:
        chip = page.locator(f"input[name='categories'][value='{category}']")
        act(page.locator(f"label[for='{chip.get_attribute('id')}']"))
        assert chip.is_checked()
    page.locator("#comment").fill(comment)


def _focus_ring(page, label_selector: str) -> dict:
    return page.evaluate("""(sel) => {
        const s = getComputedStyle(document.querySelector(sel));
        return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor};
    }""", label_selector)


def _contrast_with_white(css_color: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])

    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def _queue(page) -> list:
    return page.evaluate(f"JSON.parse(localStorage.getItem('{QUEUE_KEY}') || '[]')")


def _wait_for_empty_queue(page, timeout: float = 30.0) -> None:
    """Poll from here: Playwright's in-page polling (wait_for_function) compiles its predicate with
    ``new Function``, which the portal's CSP (no 'unsafe-eval') refuses whenever the first check is false."""
    deadline = time.monotonic() + timeout
    while _queue(page):
        assert time.monotonic() < deadline, f"the tablet still holds {_queue(page)}"
        page.wait_for_timeout(200)


def _pause_clock(page) -> None:
    """Freeze the page's timers (setTimeout, setInterval, Date) where they are; the test advances them."""
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)


# -- a phone -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("large", [False, True], ids=["standard", "large-text"])
def test_a_phone_rates_with_a_face_a_chip_and_a_comment(browser, live_server, kiosk, live_db, app, large):
    suffix = "?large=1" if large else ""
    comment = _comment(README_COMMENT)
    category = kiosk["categories"][1]
    context, page = _phone(browser, live_server)
    try:
        page.goto(kiosk["path"] + suffix)
        assert page.locator("h1").inner_text() == kiosk["name"]
        _check_page(page, "the form")
        assert _smallest_text(page)[0] >= SMALLEST_TEXT[large], _smallest_text(page)
        _rate(page, 4, README_COMMENT, category, tap=True)
        page.locator("#comment").blur()
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"kiosk-phone{'-large' if large else ''}.png"
        page.screenshot(path=str(shot), full_page=True)
        if not large:
            assert shot.stat().st_size < MAX_SCREENSHOT_BYTES, shot.stat().st_size
            if os.environ.get("PORTAL_README_SCREENSHOTS") == "1":
                shutil.copyfile(shot, README_SHOT)

        page.locator("#comment").fill(comment)  # the test's own words, to find the row
        page.locator("button.send").tap()
        code = _query_code(page)
        assert page.locator(".thanks").get_attribute("data-query-code") == code
        _check_page(page, "the thank-you page")
        assert _smallest_text(page)[0] >= SMALLEST_TEXT[large], _smallest_text(page)
        assert _rows(live_db, comment) == [{"channel": "kiosk", "rating": 4, "categories": [category],
                                            "is_spam": False, "staff_code_id": None}]

        page.locator(".thanks a.link-button").tap()  # 查看处理进度
        page.wait_for_url(re.compile(r"/q/"))
        assert page.url.split("/q/")[1] == code.replace("-", "") + suffix
        assert page.locator(".query .code").inner_text().strip() == code
        assert page.locator(".facts .status").inner_text().strip() == _received_label(app)
        assert kiosk["name"] in page.locator(".facts").inner_text()
        assert comment not in page.content()  # the status page shows no personal data, not even the comment
        _check_page(page, "the 查询码 page")
        assert _smallest_text(page)[0] >= SMALLEST_TEXT[large], _smallest_text(page)
        # as read out or typed from the thank-you page (with its hyphen)
        assert page.goto(f"/q/{code}{suffix}").status == 200
        assert page.locator(".facts .status").inner_text().strip() == _received_label(app)
        _check_page(page, "the 查询码 page, code with a hyphen", axe=False)

        page.goto(f"/q{suffix}")  # typed on the look-up page, in lower case, as read out
        _check_page(page, "the look-up page")
        page.locator("#code").fill(code.lower())
        with page.expect_navigation():
            page.locator("button.send").tap()
        assert page.url.split("/q/")[1] == code.replace("-", "") + suffix  # large text kept all the way
        assert page.locator(".facts .status").inner_text().strip() == _received_label(app)

        page.goto(kiosk["staff_path"] + suffix)  # a clerk's own code names them
        assert kiosk["clerk"] in page.locator(".who").inner_text()
        _check_page(page, "the form of a staff code")
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


def test_without_javascript_the_form_is_a_plain_post(browser, live_server, kiosk, live_db, app):
    comment = _comment("没有脚本也能提交")
    category = kiosk["categories"][0]
    context, page = _phone(browser, live_server, java_script_enabled=False)
    try:
        page.goto(kiosk["path"])
        _check_page(page, "the form without JavaScript", axe=False)  # axe needs JavaScript
        _rate(page, 2, comment, category, tap=True)
        with page.expect_navigation() as navigation:
            page.locator("button.send").tap()
        response = navigation.value
        assert (response.request.method, response.status) == ("POST", 200)
        assert response.url == live_server.url + kiosk["path"]
        assert page.title() == translated(app, "Thank you for your feedback!")
        code = _query_code(page)
        _check_page(page, "the thank-you page without JavaScript", axe=False)
        assert _rows(live_db, comment) == [{"channel": "kiosk", "rating": 2, "categories": [category],
                                            "is_spam": False, "staff_code_id": None}]
        with page.expect_navigation():
            page.locator(".thanks a.link-button").tap()
        assert page.locator(".query .code").inner_text().strip() == code
        assert page.locator(".facts .status").inner_text().strip() == _received_label(app)
        assert page.csp_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "plain-post"])
def test_a_double_tap_on_send_stores_one_row(browser, live_server, kiosk, live_db, javascript):
    comment = _comment("连点两下发送")
    context, page = _phone(browser, live_server, java_script_enabled=javascript)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    try:
        page.goto(kiosk["path"])
        _rate(page, 5, comment)
        page.locator("button.send").click(click_count=2, delay=30)  # two quick clicks
        code = _query_code(page)
        assert posts, "the form was not sent"
        assert len(_rows(live_db, comment)) == 1
        time.sleep(2)  # a second request still in flight would have landed by now
        assert len(_rows(live_db, comment)) == 1, f"{len(posts)} POSTs"
        assert page.goto(f"/q/{code}").status == 200  # the code shown is the row's
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


def test_the_kiosk_refusals_are_pages_that_fit_a_phone(browser, live_server, kiosk, app):
    context, page = _phone(browser, live_server)
    assets = []
    page.on("response", lambda r: assets.append((r.url, r.status)) if r.request.resource_type != "document" else None)
    try:
        forged = kiosk["path"].rsplit("/", 1)[0] + "/aaaaaaaaaa"
        for url, message in (
                (forged, "This QR code is not valid, or is no longer in use. Please ask the staff for a current one."),
                ("/q/ABCD-EFGH", "No feedback has this follow-up code. Check the code (8 letters and digits) and "
                                 "try again.")):
            assert page.goto(url).status == 404, url
            assert translated(app, message) in page.locator(".kiosk-error").inner_text(), url
            _check_page(page, url)
        assert assets and all(status == 200 for _url, status in assets), assets
        # the browser logs each page's own 404, and nothing else
        assert (page.csp_errors, len(page.console_errors)) == ([], 2), page.console_errors
    finally:
        context.close()


# -- a tablet at the counter -------------------------------------------------------------------------------
def test_an_offline_tablet_keeps_the_rating_and_sends_it_once(browser, live_server, kiosk, live_db, app):
    comment = _comment("离线时评价，联网后送达")
    tablet_url = kiosk["path"] + "?kiosk=1"
    context, page = _context(browser, live_server, viewport=TABLET, has_touch=True)
    posts = []
    page.on("request", lambda r: posts.append(r.post_data or "") if r.method == "POST" else None)
    try:
        page.clock.install()
        page.goto(tablet_url)
        _pause_clock(page)
        token = page.locator("input[name='form_token']").input_value()

        context.set_offline(True)
        assert page.evaluate("navigator.onLine") is False
        _rate(page, 2, comment, kiosk["categories"][2], tap=True)
        page.locator("button.send").tap()
        thanks = page.locator(".thanks[data-offline]")
        thanks.wait_for()
        assert translated(app, "The network is down just now: your rating is kept on this device and will be "
                               "sent when the network returns.") in thanks.inner_text()
        assert [entry["key"] for entry in _queue(page)] == [token]
        page.screenshot(path=str(ARTIFACTS / "kiosk-tablet-offline.png"))
        assert posts == [] and _rows(live_db, comment) == []

        # still offline, the thank-you screen gives way to an empty form with one of the page's spare tokens
        page.clock.run_for(RESET_MS + 1000)
        page.locator("#kiosk-form").wait_for()
        assert page.locator(".thanks").count() == 0
        assert page.locator("input[name='rating']:checked").count() == 0
        spare = page.locator("input[name='form_token']").input_value()
        assert spare and spare != token

        context.set_offline(False)  # the "online" event sends what was kept
        rows = _wait_for_rows(live_db, comment, 1)
        assert [(r["channel"], r["rating"], r["categories"]) for r in rows] == [("tablet", 2, [kiosk["categories"][2]])]
        _wait_for_empty_queue(page)
        assert len(posts) == 1 and token in posts[0]

        page.clock.run_for(RETRY_MS + 5000)  # past the next retry: nothing left to send
        page.wait_for_timeout(1500)  # real time, for a POST the retry would have started to show up
        assert len(posts) == 1, f"{len(posts)} POSTs"
        assert len(_rows(live_db, comment)) == 1
        assert _queue(page) == []
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


def test_a_rating_kept_across_a_lost_session_is_still_delivered_once(browser, live_server, kiosk, live_db):
    """The tablet's session cookie (with the CSRF token the kept rating carries) is gone when the network
    returns: the refused post fetches the form for a fresh token and sends again, with the same form token."""
    comment = _comment("离线期间会话丢失")
    context, page = _context(browser, live_server, viewport=TABLET, has_touch=True)
    posts = []
    page.on("request", lambda r: posts.append(r.post_data or "") if r.method == "POST" else None)
    try:
        page.goto(kiosk["path"] + "?kiosk=1")
        token = page.locator("input[name='form_token']").input_value()
        context.set_offline(True)
        _rate(page, 4, comment, tap=True)
        page.locator("button.send").tap()
        page.locator(".thanks[data-offline]").wait_for()
        context.clear_cookies()  # the session, and the CSRF token bound to it, are gone
        context.set_offline(False)
        rows = _wait_for_rows(live_db, comment, 1)
        assert [r["rating"] for r in rows] == [4]
        _wait_for_empty_queue(page)
        assert len(posts) == 2 and all(token in p for p in posts)  # refused once (CSRF), then delivered
        assert len(_rows(live_db, comment)) == 1
    finally:
        context.close()


def test_the_tablet_waits_for_a_kept_rating_to_be_sent_before_starting_again(browser, live_server, kiosk, live_db):
    """The network returns just before the offline thank-you screen's time is up: the screen waits for the
    server's answer before it starts again, so the rating (already stored) is not sent a second time from the
    next page."""
    comment = _comment("联网时恰好到了回到空白表单的时间")
    context, page = _context(browser, live_server, viewport=TABLET, has_touch=True)
    posts, held = [], []

    def hold_the_answer(route):
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.post_data or "")
        held.append((route, route.fetch()))  # the server stores the rating; the tablet does not hear back yet

    try:
        page.clock.install()
        page.goto(kiosk["path"] + "?kiosk=1")
        _pause_clock(page)
        page.route(re.compile(r"/k/"), hold_the_answer)
        context.set_offline(True)
        _rate(page, 3, comment, tap=True)
        page.locator("button.send").tap()
        page.locator(".thanks[data-offline]").wait_for()

        page.clock.run_for(IDLE_MS - 500)
        context.set_offline(False)
        for _ in range(600):
            if held:
                break
            page.wait_for_timeout(100)
        assert len(held) == 1 and len(_rows(live_db, comment)) == 1  # delivered, the answer on its way
        page.clock.run_for(3000)  # the screen's time is up while the answer is still out
        assert page.locator(".thanks[data-offline]").count() == 1
        route, response = held.pop()
        route.fulfill(response=response)
        _wait_for_empty_queue(page)

        with page.expect_navigation():
            page.clock.run_for(1500)
        page.locator("#kiosk-form").wait_for()
        page.wait_for_timeout(1500)  # real time, for a POST from the new page to show up
        assert len(posts) == 1 and held == [], posts
        assert len(_rows(live_db, comment)) == 1
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


def test_an_offline_tablet_does_not_keep_a_form_without_a_rating(browser, live_server, kiosk):
    context, page = _context(browser, live_server, viewport=TABLET, has_touch=True)
    try:
        page.goto(kiosk["path"] + "?kiosk=1")
        context.set_offline(True)
        page.locator("#comment").fill(_comment("忘了选表情"))
        page.locator("button.send").tap()
        assert page.evaluate("document.querySelector('#rating-5').validity.valueMissing") is True
        assert page.locator(".thanks").count() == 0 and _queue(page) == []
        assert page.locator("button.send").is_enabled()
        context.set_offline(False)
    finally:
        context.close()


def test_the_tablet_thank_you_screen_returns_to_an_empty_form(browser, live_server, kiosk, live_db):
    comment = _comment("平板评价后自动回到空白表单")
    context, page = _context(browser, live_server, viewport=TABLET, has_touch=True)
    try:
        page.clock.install()
        page.goto(kiosk["path"] + "?kiosk=1")
        _pause_clock(page)
        token = page.locator("input[name='form_token']").input_value()
        assert page.locator("a[href^='/q']").count() == 0  # nothing leads away from the form for good
        _rate(page, 5, comment, tap=True)
        page.locator("button.send").tap()
        code = _query_code(page)
        assert page.locator(".thanks [data-kiosk-reset]").count() == 1  # 完成
        assert page.locator(".thanks a[href^='/q/']").count() == 0  # the next customer must not find this one's
        page.screenshot(path=str(ARTIFACTS / "kiosk-tablet-thanks.png"))
        assert [r["channel"] for r in _wait_for_rows(live_db, comment, 1)] == ["tablet"]

        with page.expect_navigation():
            page.clock.run_for(RESET_MS + 1000)
        page.locator("#kiosk-form").wait_for()
        assert page.url == live_server.url + kiosk["path"] + "?kiosk=1"
        assert page.locator(".thanks").count() == 0 and code not in page.content()
        assert page.locator("input[name='rating']:checked, input[name='categories']:checked").count() == 0
        assert page.locator("#comment").input_value() == ""
        assert page.locator("input[name='form_token']").input_value() != token
        assert len(_rows(live_db, comment)) == 1
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


# -- keyboard ----------------------------------------------------------------------------------------------
def test_the_faces_are_reachable_and_selectable_by_keyboard(browser, live_server, kiosk, live_db):
    comment = _comment("只用键盘填写")
    context, page = _context(browser, live_server, viewport=PHONE)
    try:
        page.goto(kiosk["path"])
        page.keyboard.press("Tab")
        focused = "document.activeElement.id"
        assert page.evaluate(focused) == "rating-5"  # the first face, first stop on the page
        assert page.evaluate("document.activeElement.matches(':focus-visible')")
        ring = _focus_ring(page, "label[for='rating-5']")
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert _contrast_with_white(ring["color"]) >= 3, ring  # visible on the white card

        page.keyboard.press("Space")
        assert page.locator("#rating-5").is_checked()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.evaluate(focused) == "rating-3" and page.locator("#rating-3").is_checked()
        assert page.locator("input[name='rating']:checked").count() == 1
        page.keyboard.press("ArrowLeft")
        assert page.locator("#rating-4").is_checked()
        assert _focus_ring(page, "label[for='rating-4']")["style"] != "none"
        assert _focus_ring(page, "label[for='rating-5']")["style"] == "none"  # the ring moved with the focus

        page.keyboard.press("Tab")  # the 0–10 question
        assert page.evaluate(focused) == "nps-0"
        page.keyboard.press("Tab")  # the first category chip
        assert page.evaluate(focused) == "cat-1"
        page.keyboard.press("Space")
        assert page.locator("#cat-1").is_checked()
        assert _focus_ring(page, "label[for='cat-1']")["style"] != "none"
        while page.evaluate(focused) != "comment":
            page.keyboard.press("Tab")
        page.keyboard.type(comment)
        while page.evaluate("document.activeElement.type") != "submit":
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        _query_code(page)
        rows = _rows(live_db, comment)
        assert [(r["rating"], r["categories"]) for r in rows] == [(4, [kiosk["categories"][0]])]
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()


# -- weight ------------------------------------------------------------------------------------------------
def test_the_kiosk_page_and_its_assets_are_under_40_kb_gzipped(browser, live_server, kiosk, capsys):
    context, page = _context(browser, live_server, viewport=PHONE)
    responses = []
    page.on("response", lambda r: responses.append(r))
    try:
        page.goto(kiosk["path"] + "?kiosk=1")  # tablet mode: the heaviest (spare tokens, the offline screen)
        page.wait_for_load_state("load")
        sizes = {}
        for response in responses:
            body = response.body()
            encoding = response.all_headers().get("content-encoding")
            # static files come gzipped (built at start); the page itself as nginx would send it
            sizes[response.url.replace(live_server.url, "")] = (int(response.all_headers()["content-length"])
                                                                if encoding == "gzip" else len(gzip.compress(body, 6)))
        assert {r.status for r in responses} == {200}, [(r.url, r.status) for r in responses]
        assert all(url.startswith(("/k/", "/static/")) for url in sizes), sizes  # nothing from elsewhere
        total = sum(sizes.values())
        with capsys.disabled():
            print(f"\nkiosk page (tablet mode), gzipped: {total / 1024:.1f} KB "
                  + ", ".join(f"{url.rsplit('/', 1)[-1][:24]} {size / 1024:.1f}" for url, size in sizes.items()))
        assert total < MAX_PAGE_GZIPPED, sizes
        assert (page.csp_errors, page.console_errors) == ([], [])
    finally:
        context.close()
