"""Regenerate the poster screenshot of the README, ``feedback-poster.png``: page 1 of the first demo service
point's A4 poster (扫码评价), as the portal prints it, rendered with ``pdftoppm -png -r 60``.

    .venv/bin/python docs/screenshots/make_poster_screenshot.py

The same throwaway portal as make_sop_screenshots.py (``throwaway_portal``), logged in as the demo quality
manager. The kiosk address on the poster uses PORTAL_KIOSK_BASE_URL (https://portal.example.com here), as an
installation whose customers reach the portal under a public host name would. Needs Debian's chromium,
fonts-wqy-microhei and poppler-utils (``make system-deps``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

from make_sop_screenshots import log_in, report, throwaway_portal  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TARGET = HERE / "feedback-poster.png"


def main() -> None:
    from playwright.sync_api import sync_playwright

    os.environ["PORTAL_KIOSK_BASE_URL"] = "https://portal.example.com"
    with throwaway_portal("poster-shot") as (server, tmp):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=server.url, locale="zh-CN", timezone_id="Asia/Shanghai")
            page = context.new_page()
            log_in(page, server, "quality")
            page.goto("/service-points/")
            point = page.locator("#points-list a[href^='/service-points/']").first.get_attribute("href")
            response = page.request.get(f"{point}/poster-a4.pdf")
            assert response.ok and response.headers["content-type"].startswith("application/pdf"), response
            pdf = tmp / "poster.pdf"
            pdf.write_bytes(response.body())
            context.close()
            browser.close()
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(tmp / "page1")], check=True)
        (tmp / "page1.png").replace(TARGET)
    report(TARGET)


if __name__ == "__main__":
    main()
