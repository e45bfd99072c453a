"""Regenerate the README screenshots: the real portal with demo data, in Debian's Chromium.

    .venv/bin/python tools/screenshots.py              # all of them
    .venv/bin/python tools/screenshots.py capa.png     # only those named
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.livesrv import LiveServer  # noqa: E402

SHOTS = [
    ("zhangsan", "/", "docs/screenshot-home.png"),
    ("admin", "/admin/org/users", "docs/screenshot-users.png"),
    ("quality", "/quality/matrix/", "docs/screenshot-matrix.png"),
    ("quality", "/quality/objectives/", "docs/screenshot-objectives.png"),
    ("head_kf", "/notifications", "docs/screenshot-notifications.png"),
    ("head_kf", "/training/matrix", "docs/screenshots/training-matrix.png"),
    ("head_kf", "/queue/", "docs/screenshots/queue.png"),
    ("quality", "/capa/1", "docs/screenshots/capa.png"),  # the demo's closed CAPA: its check and signature
    ("quality", "/ranking/", "docs/screenshots/ranking.png"),  # last month's, with the clerks (quality manager)
]
#: Taken whole, not just the first screenful.
FULL_PAGE = {"docs/screenshots/capa.png"}


def main(only: list[str] | None = None) -> None:
    """Every screenshot, or those whose target ends with one of ``only`` (the command line's arguments)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp)).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for username, path, target in SHOTS:
                    if only and not any(target.endswith(name) for name in only):
                        continue
                    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 760}, locale="zh-CN")
                    page = context.new_page()
                    page.goto("/login")
                    page.fill("#username", username)
                    page.fill("#password", "demo1234")
                    page.click("#login-form button[type=submit]")
                    page.wait_for_url(server.url + "/")
                    page.goto(path)
                    page.screenshot(path=str(ROOT / target), full_page=target in FULL_PAGE)
                    print("wrote", target)
                    context.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
