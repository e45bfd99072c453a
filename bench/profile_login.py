"""Where the time of the portal's GET /login goes: in-process, with ``app.test_client()``.

    .venv/bin/python bench/profile_login.py [--requests 1000] [--rounds 3] [--top 25]

Same set-up as run_all.py (temporary instance directory, ``flask db upgrade``, PORTAL_CONFIG=production,
external Redis at redis://127.0.0.1:6379/12). Prints:

1. SQL statements and Redis commands per GET /login (anonymous, with and without a session cookie)
   and per GET /healthz.
2. Microseconds per request, in-process (no HTTP, no gunicorn): the bare app, the portal, and the portal
   with one thing switched off at a time (each variant in its own subprocess, so the module-level
   extension singletons are bound once).
3. Microseconds per component, measured inside a request context.
4. A cProfile of GET /login: own time summed per package, and the top functions.

Bounded: a few thousand requests per variant; all traffic in-process; Redis on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import cProfile
import collections
import json
import os
import pstats
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
MAX_REQUESTS = 20000

VARIANTS = {
    "portal (as configured)": {},
    "  WTF_I18N_ENABLED=False": {"config": {"WTF_I18N_ENABLED": False}},
    "  RATELIMIT_ENABLED=False": {"config": {"RATELIMIT_ENABLED": False}},
    "  no security after_request": {"patch": "no_security_headers"},
    "  partial only (HX-Request)": {"headers": {"HX-Request": "true"}},
}


def _env(tmp: Path) -> dict:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "PORTAL_PROXY_COUNT", "FLASK_DEBUG"):
        env.pop(name, None)
    env.update(
        PORTAL_INSTANCE_DIR=str(tmp),
        PORTAL_CONFIG="production",
        SECRET_KEY=secrets.token_hex(32),
        PORTAL_SECURE_COOKIES="0",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _timeit(fn, n: int) -> float:
    """Microseconds per call: the best of three batches of n."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


# -- child: one variant -----------------------------------------------------------------------------
def _apply_patch(app, names: str | None) -> None:
    for name in (names or "").split(","):
        _apply_one(app, name)


def _apply_one(app, name: str) -> None:
    if name == "no_security_headers":
        funcs = app.after_request_funcs.get(None, [])
        app.after_request_funcs[None] = [f for f in funcs if getattr(f, "__name__", "") != "add_security_headers"]


def child(variant: str, n: int) -> None:
    spec = VARIANTS.get(variant, {})
    if variant == "bare":
        sys.path.insert(0, str(BENCH_DIR))
        from bare_app import app

        path, headers = "/", {}
    else:
        sys.path.insert(0, str(ROOT))
        from portal import create_app

        app = create_app("production", overrides=spec.get("config"))
        _apply_patch(app, spec.get("patch"))
        path, headers = "/login", spec.get("headers", {})
    client = app.test_client()
    for _ in range(200):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, resp.status_code
        client._cookies.clear()  # every request an anonymous first visit, as wrk sends them
    def one():
        client.get(path, headers=headers)
        client._cookies.clear()

    import hashlib
    import re

    body = re.sub(rb'value="[A-Za-z0-9._-]{40,}"|"X-CSRFToken": "[^"]+"', b"TOKEN", client.get(path, headers=headers).data)
    print(json.dumps({"us": _timeit(one, n), "bytes": len(resp.data), "md5": hashlib.md5(body).hexdigest()[:8]}))


# -- parent ---------------------------------------------------------------------------------------
def count_io(app) -> None:
    import redis
    from sqlalchemy import event

    from portal.extensions import db

    statements: list[str] = []
    commands: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda conn, cur, stmt, *a: statements.append(stmt))
    original = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        commands.append(str(args[0]))
        return original(self, *args, **kwargs)

    redis.Redis.execute_command = counting
    try:
        client = app.test_client()
        cases = [
            ("GET /login, no cookie", "/login", True),
            ("GET /login, anonymous session cookie", "/login", False),
            ("GET /healthz", "/healthz", True),
        ]
        client.get("/login")  # warm: first connection's PRAGMAs are not per-request costs
        client.get("/healthz")
        print("SQL statements and Redis commands per request")
        for label, path, clear in cases:
            if clear:
                client._cookies.clear()
            else:
                client._cookies.clear()
                client.get("/login")  # obtain a session cookie first
            statements.clear()
            commands.clear()
            resp = client.get(path)
            print(f"  {label:<40} HTTP {resp.status_code}  SQL: {len(statements)}  Redis: {len(commands)}"
                  + (f"  ({'; '.join(s.split()[0] for s in statements)})" if statements else "")
                  + (f"  ({', '.join(commands)})" if commands else ""))
            cookie = resp.headers.get("Set-Cookie", "")
            print(f"  {'':<40} Set-Cookie: {cookie[:60] + '...' if cookie else '(none)'}")
    finally:
        redis.Redis.execute_command = original
    print()


def components(app, n: int) -> None:
    from flask import render_template, session
    from flask_babel import get_locale, gettext
    from flask_wtf.csrf import generate_csrf
    from flask_wtf.i18n import _get_translations

    from portal.auth.forms import LoginForm

    print(f"Microseconds per component (inside one request context, best of 3 x {n})")
    rows = []
    with app.test_request_context("/login"):
        app.preprocess_request()
        form = LoginForm()
        rows.append(("LoginForm() (binds 4 fields)", _timeit(LoginForm, n)))

        def wtforms_catalog():
            from flask import request

            request.__dict__.pop("wtforms_translations", None)
            _get_translations()

        rows.append(("  of which Flask-WTF wtforms catalog load", _timeit(wtforms_catalog, n)))

        def fresh_csrf():
            session.pop("csrf_token", None)
            from flask import g

            g.pop("csrf_token", None)
            generate_csrf()

        rows.append(("generate_csrf() new token (urandom+sha1+sign)", _timeit(fresh_csrf, n)))

        def cached_csrf():
            generate_csrf()

        rows.append(("generate_csrf() again in the same request", _timeit(cached_csrf, n)))
        rows.append(("Flask-Babel gettext() one call", _timeit(lambda: gettext("Log in"), n)))
        rows.append(("Flask-Babel get_locale()", _timeit(get_locale, n)))
        rows.append(("render_template('auth/login.html')", _timeit(lambda: render_template("auth/login.html", form=form), n)))
        rows.append(("render_template(partial _login_form.html)",
                     _timeit(lambda: render_template("auth/_partials/_login_form.html", form=form), n)))
        rows.append(("  form.hidden_tag()", _timeit(form.hidden_tag, n)))
        rows.append(("  form.username(class_=..., ...) widget", _timeit(lambda: form.username(class_="form-control", autocomplete="username"), n)))
        resp = app.response_class("x")
        si = app.session_interface
        rows.append(("session cookie save (serialize + sign)", _timeit(lambda: si.save_session(app, session, resp), n)))
        rows.append(("after_request hooks (all)", _timeit(lambda: app.process_response(app.response_class("x")), n)))
    for label, us in rows:
        print(f"  {label:<48}{us:>9.1f}")
    print()


def profile(app, n: int, top: int) -> None:
    client = app.test_client()
    for _ in range(200):
        client.get("/login")
        client._cookies.clear()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        client.get("/login")
        client._cookies.clear()
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())
    by_pkg: dict[str, float] = collections.defaultdict(float)
    for (filename, _line, _func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        if "site-packages/" in filename:
            pkg = filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
        elif "/work/main/templates/" in filename or filename.endswith(".html"):
            pkg = "(compiled templates)"
        elif str(ROOT / "portal") in filename:
            pkg = "portal"
        elif filename.startswith("~") or filename.startswith("<"):
            pkg = "(builtins)"
        else:
            pkg = "(stdlib) " + Path(filename).stem
        by_pkg[pkg] += tt
    print(f"cProfile of {n} x GET /login (profiler overhead inflates absolute times): own time per package")
    for pkg, tt in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {pkg:<32}{tt / total * 100:>6.1f}%")
    print()
    print(f"Top {top} functions by cumulative time per request (us, profiled)")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][3])
    shown = 0
    skip = ("werkzeug/test.py", "flask/testing.py", "flask/app.py", "proxy_fix.py", "{method 'join'", "root)")
    for (filename, line, func), (_cc, nc, _tt, ct, _callers) in rows:
        where = f"{filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line}({func})"
        if any(s in where for s in skip):
            continue
        print(f"  {ct / n * 1e6:>8.0f}  {nc / n:>6.1f}x  {where}")
        shown += 1
        if shown >= top:
            break
    print()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000, help="requests per batch (3 batches per variant and round)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all variants (best one kept)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    n = max(100, min(opts.requests, MAX_REQUESTS))
    opts.rounds = max(1, min(opts.rounds, 10))
    if opts.child:
        child(opts.child, n)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    try:
        env = _env(tmp)
        res = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        if res.returncode:
            sys.stderr.write(res.stderr)
            return 1
        print(f"nproc: {len(os.sched_getaffinity(0))}   requests per variant: {n}\n")
        print("Microseconds per request, in-process test client, every request an anonymous first visit")
        print("(body: hash of the page with CSRF tokens blanked; same hash = same output as the portal)")
        print(f"(best of {opts.rounds} interleaved rounds x 3 batches of {n}: other load on the machine only adds time)")
        best: dict[str, dict] = {}
        for _round in range(opts.rounds):
            for variant in ["bare", *VARIANTS]:
                out = subprocess.run([sys.executable, __file__, "--child", variant, "--requests", str(n)], cwd=ROOT,
                                     env=env, capture_output=True, text=True, timeout=600)
                if out.returncode:
                    sys.stderr.write(out.stderr[-3000:])
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if variant not in best or r["us"] < best[variant]["us"]:
                    best[variant] = r
        base = best["portal (as configured)"]["us"]
        for variant, r in best.items():
            label = "bare-flask GET / (bench/bare_app.py)" if variant == "bare" else variant
            delta = "" if variant in ("bare", "portal (as configured)") else f"{r['us'] - base:>+8.0f}"
            print(f"  {label:<40}{r['us']:>8.0f} us {r['bytes']:>6} B  body {r['md5']} {delta}")
        print(f"  in-process ratio bare/portal: {best['bare']['us'] / base:.2f}")
        print()

        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        from portal import create_app

        app = create_app("production")
        count_io(app)
        components(app, max(200, n // 2))
        profile(app, 2 * n, opts.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
