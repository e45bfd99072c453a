"""Browser tests: the real portal under gunicorn, driven by Playwright in Debian's Chromium."""
from __future__ import annotations

import os

import pytest

from tests.helpers import service_missing
from tests.livesrv import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


#: Every browser here posts from 127.0.0.1, and the kiosk form's per-address limits (10 a minute, 30 an hour) are
#: counted in the test Redis, which outlives a run: tests/e2e/test_kiosk.py would hit them after a couple of runs.
KIOSK_LIMITS = {"PORTAL_KIOSK_LIMIT_IP": "600/minute", "PORTAL_KIOSK_LIMIT_POINT": "600/minute"}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, redis_url, database_url):
    server = LiveServer(tmp_path_factory.mktemp("live"), "e2e")
    server.env.update(KIOSK_LIMITS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        service_missing(f"{CHROMIUM} is not installed (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
