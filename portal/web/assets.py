"""Static files with hashed names, precompressed, served by WhiteNoise with a long cache life.

``build(source, target)`` copies ``static/`` into a build directory: every file under its own name and
under a content-hashed name (``css/portal.3f9c0a1b2d4e.css``), a ``.gz`` beside each compressible file,
and ``staticfiles.json`` mapping names to hashed names. ``static_url()`` in the templates reads that
manifest, so pages always point at the current bytes and a browser may keep them for a year.

The build directory is named after a fingerprint of the sources (``instance/static-build/<fingerprint>``):
a start with changed sources builds anew, an unchanged one reuses the build. ``make run`` builds before
starting (``flask portal build-static``), as must a production deployment whose instance folder is read-only;
otherwise the first worker to start builds it (atomically: a directory renamed into place).

``PORTAL_STATIC_BUILD``: ``auto`` (build or reuse at start, the default) or ``off`` (Flask serves
``static/`` unhashed and uncompressed; the test configuration).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

MANIFEST = "staticfiles.json"
#: Files worth compressing; images like PNG or ICO are compressed already or tiny.
COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json", ".map", ".html", ".xml"}
HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
#: Hashed files never change: a year, immutable. Plain names (bookmarked or referenced from outside) a minute.
LONG_MAX_AGE = 365 * 24 * 3600
SHORT_MAX_AGE = 60


def _source_files(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.suffix != ".gz" and p.name != "VERSIONS.txt")


def fingerprint(source: Path) -> str:
    """One hash over every file's relative name and contents."""
    digest = hashlib.sha256()
    for path in _source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def hashed_name(name: str, data: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or "/" in ext:
        return f"{name}.{hashlib.sha256(data).hexdigest()[:12]}"
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{ext}"


def _write_gzip(path: Path, data: bytes) -> None:
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    if len(packed) < len(data) * 0.95:  # WhiteNoise serves file.gz when the browser accepts gzip
        path.with_name(path.name + ".gz").write_bytes(packed)


def build(source: Path, target: Path) -> dict[str, str]:
    """Write the build into ``target`` (which must not exist); return the manifest."""
    manifest: dict[str, str] = {}
    target.mkdir(parents=True)
    for path in _source_files(source):
        name = path.relative_to(source).as_posix()
        data = path.read_bytes()
        hashed = hashed_name(name, data)
        manifest[name] = hashed
        for out_name in (name, hashed):
            out = target / out_name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            if path.suffix.lower() in COMPRESSIBLE:
                _write_gzip(out, data)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=0, sort_keys=True), encoding="utf-8")
    return manifest


def ensure_build(source: Path, builds: Path) -> tuple[Path, dict[str, str]]:
    """The build for the current sources, made now if missing. Safe when several workers start at once:
    each builds into a temporary directory and renames it into place; a loser discards its copy."""
    final = builds / fingerprint(source)
    manifest_file = final / MANIFEST
    if not manifest_file.exists():
        builds.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=builds))
        build(source, scratch / "out")
        try:
            os.rename(scratch / "out", final)
        except OSError:  # another process got there first
            pass
        shutil.rmtree(scratch, ignore_errors=True)
        _prune(builds, keep=final)
    return final, json.loads(manifest_file.read_text(encoding="utf-8"))


def _prune(builds: Path, keep: Path, retain: int = 2) -> None:
    """Keep the newest few builds (a rolling restart may still have workers on the previous one)."""
    olds = sorted((p for p in builds.iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in olds[retain - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def _is_hashed(path: str, url: str) -> bool:
    return bool(HASHED.search(url))


def _add_headers(headers, path: str, url: str) -> None:
    # WhiteNoise allows any origin by default (for CDNs); the portal's files are for its own pages.
    if "Access-Control-Allow-Origin" in headers:
        del headers["Access-Control-Allow-Origin"]
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"


def init_app(app) -> dict[str, str]:
    """Put WhiteNoise in front of the app and return the manifest ({} when hashing is off)."""
    if app.config.get("PORTAL_STATIC_BUILD", "auto") == "off":
        return {}
    from whitenoise import WhiteNoise

    builds = Path(app.config.get("PORTAL_STATIC_BUILD_DIR") or Path(app.instance_path) / "static-build")
    root, manifest = ensure_build(Path(app.static_folder), builds)
    app.wsgi_app = WhiteNoise(app.wsgi_app, root=str(root), prefix="static/", max_age=SHORT_MAX_AGE,
                              immutable_file_test=_is_hashed, add_headers_function=_add_headers)
    app.config["PORTAL_STATIC_ROOT"] = str(root)
    return manifest
