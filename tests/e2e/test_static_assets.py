"""A cold page in Chromium against the real server (gunicorn, built static files): every static file it
loads comes gzipped under a hashed name with a year's immutable cache, and the whole lot is under 90 KB on
the wire (it was 373 KB uncompressed, re-checked on every view with Cache-Control: no-cache)."""
import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_cold_page_loads_hashed_gzipped_immutable_static_files(page, live_server, capsys):
    statics = []
    page.on("response", lambda r: statics.append(r) if "/static/" in r.url else None)
    page.goto("/login")
    page.wait_for_load_state("load")
    assert len(statics) >= 5, [r.url for r in statics]
    wire = decoded = 0
    for response in statics:
        headers = response.all_headers()
        assert response.status == 200, response.url
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", response.url), response.url
        assert headers.get("content-encoding") == "gzip", (response.url, headers)
        assert "immutable" in headers["cache-control"], (response.url, headers["cache-control"])
        wire += int(headers["content-length"])
        decoded += len(response.body())
    with capsys.disabled():
        print(f"\ncold /login: {len(statics)} static files, {decoded / 1024:.0f} KB decoded, {wire / 1024:.0f} KB on the wire")
    assert wire < 90 * 1024 and decoded > 3 * wire
    favicon = page.request.get("/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert page.csp_errors == []
