"""Static files (issue 8, item 15): hashed names, gzip, a year's cache for hashed files, built at start and
rebuilt when a source changes; the favicon; the skip link and button dropdowns (the named matrix cells are in
tests/raci/test_matrix.py)."""
from __future__ import annotations

import gzip
import re
import shutil

from portal.web import assets
from tests.helpers import ROOT
from tests.web import separate_app

STATIC_REF = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _build_app(tmp_path, **overrides):
    return separate_app(tmp_path, PORTAL_STATIC_BUILD="auto", PORTAL_STATIC_BUILD_DIR=str(tmp_path / "builds"),
                        **overrides)


def test_pages_name_hashed_files_served_gzipped_and_cached_for_a_year(tmp_path):
    with _build_app(tmp_path) as app:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        refs = STATIC_REF.findall(page)
        assert len(refs) >= 6, refs
        for ref in refs:
            assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", ref), ref
            response = client.get(ref, headers={"Accept-Encoding": "gzip, br"})
            assert response.status_code == 200, ref
            assert response.headers["Content-Encoding"] == "gzip", ref
            cache = response.headers["Cache-Control"]
            assert "immutable" in cache and "max-age=315360000" in cache or "max-age=31536000" in cache, cache
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "Access-Control-Allow-Origin" not in response.headers
            source = ROOT / "static" / re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", ref[len("/static/"):])
            assert gzip.decompress(response.get_data()) == source.read_bytes(), ref
        css = next(ref for ref in refs if "portal." in ref and ref.endswith(".css"))
        # without gzip in Accept-Encoding: the plain bytes
        plain = client.get(css)
        assert "Content-Encoding" not in plain.headers and plain.get_data().startswith(b"/*")
        # the unhashed name still answers, briefly cached (bookmarks, old pages during a deploy)
        unhashed = client.get("/static/css/portal.css")
        assert unhashed.status_code == 200 and "max-age=60" in unhashed.headers["Cache-Control"]
        assert client.get("/static/nope.js").status_code == 404


def test_the_build_is_reused_and_made_anew_when_a_source_changes(tmp_path):
    source = tmp_path / "static"
    shutil.copytree(ROOT / "static" / "css", source / "css")
    builds = tmp_path / "builds"
    first, manifest = assets.ensure_build(source, builds)
    again, _ = assets.ensure_build(source, builds)
    assert first == again and (first / manifest["css/portal.css"]).exists()
    assert (first / (manifest["css/portal.css"] + ".gz")).exists()
    (source / "css" / "portal.css").write_text("body { color: red; }\n", encoding="utf-8")
    second, changed = assets.ensure_build(source, builds)
    assert second != first and changed["css/portal.css"] != manifest["css/portal.css"]
    assert (second / changed["css/portal.css"]).read_text(encoding="utf-8") == "body { color: red; }\n"
    assert not list(builds.glob(".build-*"))  # no scratch directory left behind


def test_the_cli_builds_the_static_files(tmp_path):
    with _build_app(tmp_path) as app:
        result = app.test_cli_runner().invoke(args=["portal", "build-static"])
        assert result.exit_code == 0 and "static files:" in result.output


def test_favicon_is_public_and_cached(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "public" in response.headers["Cache-Control"] and "max-age=604800" in response.headers["Cache-Control"]
    assert client.get("/static/favicon.svg").status_code == 200


def test_every_page_has_a_skip_link_a_focusable_main_and_button_dropdowns(admin_client):
    page = admin_client.get("/").get_data(as_text=True)
    assert re.search(r'<body>\s*<a class="skip-link visually-hidden-focusable" href="#main">', page)
    assert '<main class="container-fluid pb-5" id="main" tabindex="-1"' in page
    assert 'rel="icon" href="/static/favicon.svg"' in page
    # dropdown toggles are buttons (Space and Enter open them), not links to "#"
    assert 'href="#"' not in page
    # the 质量体系 and 客户意见 menus, 系统管理 and the user's menu
    assert len(re.findall(r'<button type="button" class="nav-link dropdown-toggle', page)) == 4
    assert 'class="nav-link active" aria-current="page"' in page



def test_vendored_files_match_their_recorded_sha256_and_axe_is_not_served(client):
    import hashlib

    vendor = ROOT / "static" / "vendor"
    recorded = {}
    for line in (vendor / "VERSIONS.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            recorded[parts[1]] = parts[0]
    assert "../../tests/vendor/axe-core/axe.min.js" in recorded
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert not list((ROOT / "static").rglob("axe*"))  # a test tool: never under static/
