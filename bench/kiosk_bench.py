"""The kiosk form's speed (issue 10): page weight, POST throughput against a bare Flask insert, and a paced load.

    .venv/bin/python bench/kiosk_bench.py [weight] [throughput] [load]      (none named: all three)
        [--workers 2] [--threads 1] [--tp-duration 10] [--warmup 3] [--connections 16] [--clients 2]
        [--duration 60] [--rate 200] [--load-workers 4] [--load-threads 4] [--max-in-flight 128]
        [--plain] [--points 4] [--no-demo]
        [--pg-url URL] [--redis-url URL] [--json FILE]

Set-up, all on 127.0.0.1, bounded in time, cleaned up on exit (also on Ctrl-C and SIGTERM):

* a fresh PostgreSQL database ``bench_kiosk_<pid>`` (at --pg-url's server; dropped at the end), a private
  redis-server on a free port (unless --redis-url), a temporary instance directory;
* ``flask db upgrade`` and ``flask portal build-static`` with PORTAL_CONFIG=production (a random SECRET_KEY and
  PORTAL_AUDIT_KEY), ``flask portal seed-demo`` with PORTAL_CONFIG=development on the same database (it refuses
  production; skip with --no-demo), then --points service points BK01… with five categories, spread over the
  demo departments (whose heads get the 差评 notifications);
* the portal under gunicorn (``wsgi:app``, PORTAL_CONFIG=production, static build on, PORTAL_PROXY_COUNT=1 as
  behind nginx): --workers sync workers for the weight and the throughput (2, as bench/run_all.py), and for the
  load --load-workers gthread workers × --load-threads threads (4 × 4, the README's deployment line).
  **The kiosk's rate limits are raised** for the run (PORTAL_KIOSK_LIMIT_IP and PORTAL_KIOSK_LIMIT_POINT =
  1000000/minute;10000000/hour): they stay on, with two windows each like the defaults, and still count in
  Redis on every POST, but never refuse.

The parts:

1. ``weight``: GET a kiosk page (the phone page of a QR code, and the tablet page ``?kiosk=1``) with
   ``Accept-Encoding: gzip``; every resource the page names (stylesheets, scripts, icons, images, preloads;
   and url()/@import inside the stylesheets) fetched the same way; bytes per resource as sent, and the total.
   Flask does not compress HTML: the page is counted gzipped as nginx with ``gzip on;`` would send it (its
   default gzip_comp_level 1). Goal: at most 40 KB (taken as 40,000 bytes), response bodies; response headers
   (HTTP/1.1, uncompressed) are shown beside.
2. ``throughput``: the kiosk POST (a fresh one-time form token per request, one session cookie and CSRF token)
   against bench/bare_insert_app.py (a bare Flask endpoint inserting one row into the same PostgreSQL server),
   the same gunicorn worker count and the same closed-loop load generator (--connections users in --clients
   processes), a warm-up then --tp-duration seconds each. Requests/s, p50/p99, the ratio kiosk / bare
   (goal >= 0.5), and the rows each stored during the measured run, which must equal the answers showing a 查询码.
3. ``load``: --duration seconds at --rate submissions/s (open loop: each request sent at its scheduled time,
   answered or not; one still unsent 30 s after its time is dropped and counted, which bounds the run), against
   the portal with PostgreSQL and Redis. Accepted (200 with a 查询码 on the page), every
   accepted 查询码 looked up in the database (lost = accepted but not stored), rows stored, statuses other than
   200, client errors, latency from the scheduled time (p50/p90/p99/max) and how late requests left the client.

Submissions are varied like a hall's: ratings mostly 5 and 4 (about 13 % are 差评, which notify the
department's head through the outbox), some NPS, categories and comments (each comment unique, so none is
flagged as a repeat), each from its own client address (X-Forwarded-For, one proxy trusted). By default the
POST is htmx's (``HX-Request``; the thank-you fragment); --plain posts as a browser without JavaScript (full page).
Each request opens its own connection to gunicorn, as nginx's default proxying (HTTP/1.0 upstream) does;
--keep-alive reuses the client's connections instead.

The machine's load average is printed with the figures: other busy processes skew them. Figures only; nothing
about time is asserted anywhere.
"""
from __future__ import annotations

import argparse
import gzip
import html.parser
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from harness import (HOST, closed_loop, cpu_seconds, free_port, kill_children, load_line, on_sigterm,  # noqa: E402
                     open_loop, process_cpu, run, start_gunicorn, start_redis, stop, tool, wait_ready)
from pgdb import create_database, drop_database  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_kiosk"
WEIGHT_GOAL = 40_000
RATIO_GOAL = 0.5
#: Two windows each, like the defaults ("10/minute;30/hour"): the same Redis commands per POST, never refusing.
RAISED_LIMIT = "1000000/minute;10000000/hour"
CATEGORIES = ["服务态度", "等候时间", "业务效率", "环境设施", "其他"]
QUERY_CODE_RE = rb'id="query-code"[^>]*>([A-Z0-9-]+)<'
MAX_SECONDS = 600
#: Form tokens made ahead per client process for a closed-loop run: enough for this many requests/s.
TOKEN_BUDGET_RPS = 1500

SEED_POINTS = r"""
import json, sys
import sqlalchemy as sa
from portal import create_app
from portal.extensions import db
from portal.feedback import codes
from portal.feedback.models import ServicePoint
from portal.org.models import Department

n, categories = int(sys.argv[1]), sys.argv[2]
app = create_app()
with app.app_context():
    depts = list(db.session.scalars(sa.select(Department).where(Department.active.is_(True),
                                                                Department.head_id.is_not(None))
                                    .order_by(Department.id).limit(n)))
    if not depts:
        depts = [Department(code="BENCH", name="基准测试部")]
        db.session.add(depts[0])
        db.session.flush()
    points = []
    for i in range(n):
        code = f"BK{i + 1:02d}"
        point = ServicePoint(code=code, name=f"{i + 1}号窗口", location="一楼营业大厅", department_id=depts[i % len(depts)].id,
                             opening_hours="周一至周五 09:00-17:00", categories_text=categories,
                             qr_secret=codes.new_point_secret())
        db.session.add(point)
        db.session.flush()
        points.append({"code": code, "path": f"/k/{code}/{codes.kiosk_signature(point.qr_secret, code)}",
                       "department": depts[i % len(depts)].name})
    db.session.commit()
    print(json.dumps(points))
"""

COMMENTS = ["办理很快，谢谢", "等候时间有点长", "柜员很耐心", "希望多开一个窗口", "叫号系统不太清楚", "环境整洁",
            "大堂经理引导很及时", "填单太复杂了", "空调太冷", "服务热情周到"]


# -- the kiosk's requests ----------------------------------------------------------------------------------
def kiosk_requests(index: int, processes: int, secret_key: str, points: list[dict], cookie: str, csrf: str,
                   count: int, htmx: bool, prefix: str):
    """``count`` kiosk POSTs for client process ``index``: each with a fresh form token (made here, with the
    portal's own function and SECRET_KEY), the shared session cookie and CSRF token, and its own client address."""
    from flask import Flask

    from portal.feedback import codes

    rng = random.Random(f"{prefix}-{index}")
    app = Flask("kiosk-bench")
    app.config["SECRET_KEY"] = secret_key
    out = []
    with app.app_context():
        for k in range(count):
            n = k * processes + index  # this request's number in the whole run
            point = points[n % len(points)]
            fields = [("csrf_token", csrf), ("form_token", codes.issue_form_token(point["code"])), ("rated_at", ""),
                      ("rating", str(rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 12, 7, 6])[0]))]
            if rng.random() < 0.6:
                fields.append(("nps", str(rng.randint(0, 10))))
            if rng.random() < 0.3:
                fields += [("categories", c) for c in rng.sample(CATEGORIES, rng.randint(1, 2))]
            comment = f"{rng.choice(COMMENTS)}（{prefix}{n}）" if rng.random() < 0.35 else ""
            fields += [("comment", comment), ("contact", ""), ("website", "")]
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                       "X-Forwarded-For": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}
            if htmx:
                headers.update({"HX-Request": "true", "HX-Target": "kiosk", "X-CSRFToken": csrf,
                                "HX-Current-URL": f"http://{HOST}{point['path']}"})
            out.append(("POST", point["path"], urllib.parse.urlencode(fields).encode(), headers))
    return out


def bare_requests(index: int, processes: int, count: int, prefix: str):
    rng = random.Random(f"{prefix}-{index}")
    out = []
    for k in range(count):
        n = k * processes + index
        fields = [("rating", str(rng.choice([5, 4, 3, 2, 1]))),
                  ("comment", f"{rng.choice(COMMENTS)}（{prefix}{n}）" if rng.random() < 0.35 else "")]
        out.append(("POST", "/", urllib.parse.urlencode(fields).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"}))
    return out


# -- the set-up --------------------------------------------------------------------------------------------
class Stack:
    """PostgreSQL database, Redis, instance directory and the portal's gunicorn for one run."""

    def __init__(self, opts):
        self.opts = opts
        self.tmp = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
        import sqlalchemy as sa

        self.db_url = sa.engine.make_url(opts.pg_url).set(database=f"bench_kiosk_{os.getpid()}") \
            .render_as_string(hide_password=False)
        self.engine = None
        self.db_created = False
        self.secret_key = secrets.token_hex(32)
        self.port = None
        self.points: list[dict] = []
        self.cookie = self.csrf = ""
        self.proc = self.log = self.shape = None

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        for name in ("FLASK_DEBUG", "PORTAL_BASE_URL", "PORTAL_KIOSK_BASE_URL", "PORTAL_STATIC_BUILD_DIR"):
            env.pop(name, None)
        env.update(
            PORTAL_CONFIG="production", PORTAL_INSTANCE_DIR=str(self.tmp / "instance"), DATABASE_URL=self.db_url,
            REDIS_URL=self.redis_url, SECRET_KEY=self.secret_key, PORTAL_AUDIT_KEY=self.audit_key,
            PORTAL_SECURE_COOKIES="0", PORTAL_PROXY_COUNT="1", PORTAL_STATIC_BUILD="auto",
            PORTAL_KIOSK_LIMIT_IP=RAISED_LIMIT, PORTAL_KIOSK_LIMIT_POINT=RAISED_LIMIT, PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(extra)
        return env

    def start(self) -> None:
        import sqlalchemy as sa

        opts = self.opts
        (self.tmp / "instance").mkdir()
        self.audit_key = secrets.token_hex(32)
        self.redis_url = opts.redis_url or start_redis(self.tmp)
        create_database(self.db_url)
        self.db_created = True
        self.engine = sa.create_engine(self.db_url)
        env = self.env()
        flask = [tool("flask"), "--app", "wsgi"]
        t0 = time.monotonic()
        run(flask + ["db", "upgrade"], env, "flask db upgrade", ROOT)
        if not opts.no_demo:
            run(flask + ["portal", "seed-demo"], self.env(PORTAL_CONFIG="development"), "flask portal seed-demo", ROOT)
        out = run([sys.executable, "-c", SEED_POINTS, str(opts.points), "\n".join(CATEGORIES)], env,
                  "seeding the service points", ROOT)
        self.points = json.loads(out.stdout.strip().splitlines()[-1])
        built = run(flask + ["portal", "build-static"], env, "flask portal build-static", ROOT)
        print(f"database {sa.engine.make_url(self.db_url).database} migrated"
              f"{'' if opts.no_demo else ', demo data'}, {len(self.points)} service points "
              f"({', '.join(p['code'] + ' ' + p['department'] for p in self.points)}), "
              f"{built.stdout.strip()} ({time.monotonic() - t0:.0f} s)", flush=True)

    def serve(self, workers: int, threads: int) -> None:
        """The portal under gunicorn with this many workers (and threads), restarted when it differs."""
        if self.proc is not None and self.proc.poll() is None and self.shape == (workers, threads):
            return
        if self.proc is not None:
            stop(self.proc)
        self.shape = (workers, threads)
        self.port = free_port()
        self.log = self.tmp / "gunicorn-portal.log"
        self.proc = start_gunicorn("wsgi:app", self.port, workers, ROOT, self.env(), self.log, threads=threads)
        status, _size = wait_ready(self.proc, self.port, "/healthz", self.log, timeout=60)
        if status != 200:
            raise SystemExit(f"portal /healthz: HTTP {status}\n{self.log.read_text(errors='replace')[-3000:]}")
        if not self.cookie:
            # One customer's session: the cookie and its CSRF token, reused by every POST.
            status, headers, body = get(self.port, self.points[0]["path"])
            if status != 200:
                raise SystemExit(f"kiosk page: HTTP {status}\n{self.log.read_text(errors='replace')[-3000:]}")
            cookie = next((v for k, v in headers if k.lower() == "set-cookie" and v.startswith("session=")), "")
            self.cookie = cookie.split(";", 1)[0]
            match = re.search(rb'name="csrf_token" value="([^"]+)"', body)
            if not self.cookie or not match:
                raise SystemExit("the kiosk page set no session cookie or carried no CSRF token")
            self.csrf = match.group(1).decode()
        print(f"portal: gunicorn wsgi:app, {describe(workers, threads)}, PORTAL_CONFIG=production, Redis "
              f"{'private ' + self.redis_url if not self.opts.redis_url else self.redis_url}; kiosk rate limits "
              f"raised to {RAISED_LIMIT} per address and per point for the bench", flush=True)

    def count(self, table: str = "feedback") -> int:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()

    def pg_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL backend connected to the bench database."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid()")).scalars().all()
        return process_cpu(pids)

    def cpu_snapshot(self, proc) -> tuple[float, dict[int, float]]:
        return cpu_seconds([proc.pid]), self.pg_cpu()

    def cpu_used(self, proc, before) -> tuple[float, float]:
        """(CPU seconds of the gunicorn and its workers, of the database's backends) since ``before``."""
        app_before, pg_before = before
        app_after, pg_after = self.cpu_snapshot(proc)
        return app_after - app_before, sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())

    def stored_codes(self, shown: list[str]) -> int:
        """How many of the 查询码 shown to customers name a stored row (looked up by their digest)."""
        import sqlalchemy as sa
        from flask import Flask

        from portal.feedback import codes

        app = Flask("kiosk-bench")
        app.config["SECRET_KEY"] = self.secret_key
        with app.app_context():
            digests = [codes.query_code_digest(c.replace("-", "")) for c in shown]
        found = 0
        with self.engine.connect() as conn:
            for i in range(0, len(digests), 1000):
                found += conn.execute(sa.text("SELECT count(*) FROM feedback WHERE query_code_digest = ANY(:d)"),
                                      {"d": digests[i:i + 1000]}).scalar_one()
        return found

    def kiosk_source(self, per_process: int, prefix: str):
        return (kiosk_requests, {"secret_key": self.secret_key, "points": self.points, "cookie": self.cookie,
                                 "csrf": self.csrf, "count": per_process, "htmx": not self.opts.plain,
                                 "prefix": prefix})

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            print(f"warning: the portal's gunicorn exited; log tail:\n{self.log.read_text()[-2000:]}")

    def close(self) -> None:
        kill_children()
        if self.engine is not None:
            self.engine.dispose()
        if self.db_created and not self.opts.keep:
            try:
                drop_database(self.db_url)
            except Exception as exc:  # noqa: BLE001 - report, go on cleaning
                print(f"warning: could not drop the bench database: {exc}", file=sys.stderr)
        if self.opts.keep:
            print(f"kept: {self.tmp} and database {self.db_url}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def describe(workers: int, threads: int) -> str:
    return f"{workers} sync workers" if threads <= 1 else f"{workers} gthread workers × {threads} threads"


def get(port: int, path: str, gzip_ok: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


# -- 1. page weight ----------------------------------------------------------------------------------------
class _Resources(html.parser.HTMLParser):
    """What a browser fetches when it loads the page: stylesheets, scripts, icons, preloads, images, media."""

    LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest",
                 "mask-icon"}

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            rels = set((a.get("rel") or "").lower().split())
            if rels & self.LINK_RELS:
                self.found.append(("/".join(sorted(rels & self.LINK_RELS)), a["href"]))
        elif tag == "script" and a.get("src"):
            self.found.append(("script", a["src"]))
        elif tag in ("img", "source", "video", "audio", "iframe", "embed") and a.get("src"):
            self.found.append((tag, a["src"]))
        elif tag == "input" and (a.get("type") or "").lower() == "image" and a.get("src"):
            self.found.append(("input image", a["src"]))


_CSS_URL = re.compile(rb"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def _header_bytes(status: int, headers: list[tuple[str, str]]) -> int:
    return len(f"HTTP/1.1 {status} X\r\n".encode()) + sum(len(f"{k}: {v}\r\n".encode()) for k, v in headers) + 2


def _weigh(port: int, page_path: str) -> dict:
    status, headers, body = get(port, page_path, gzip_ok=True)
    if status != 200:
        raise SystemExit(f"GET {page_path}: HTTP {status}")
    encoding = dict((k.lower(), v) for k, v in headers).get("content-encoding", "")
    html_wire = len(body) if encoding == "gzip" else len(gzip.compress(body, compresslevel=1))
    raw_html = gzip.decompress(body) if encoding == "gzip" else body
    rows = [{"kind": "page (HTML)", "url": page_path, "raw": len(raw_html), "wire": html_wire,
             "how": "gzip (server)" if encoding == "gzip" else "gzip -1 as nginx would",
             "headers": _header_bytes(status, headers)}]
    parser = _Resources()
    parser.feed(raw_html.decode("utf-8", "replace"))
    queue = [(kind, urllib.parse.urljoin(page_path, url)) for kind, url in parser.found]
    seen = set()
    while queue:
        kind, url = queue.pop(0)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("data", "blob") or url in seen:
            continue
        seen.add(url)
        if parts.netloc and parts.netloc != f"{HOST}:{port}":
            rows.append({"kind": kind, "url": url, "raw": 0, "wire": 0, "how": "EXTERNAL (not measured)", "headers": 0})
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, headers, data = get(port, path, gzip_ok=True)
        encoding = dict((k.lower(), v) for k, v in headers).get("content-encoding", "")
        raw = gzip.decompress(data) if encoding == "gzip" else data
        rows.append({"kind": kind, "url": path, "raw": len(raw), "wire": len(data), "status": status,
                     "how": encoding or "identity", "headers": _header_bytes(status, headers)})
        if status != 200:
            rows[-1]["how"] += f" HTTP {status}"
        if path.split("?")[0].endswith(".css"):
            for m in _CSS_URL.finditer(raw):
                ref = (m.group(1) or m.group(2)).decode()
                queue.append(("from CSS", urllib.parse.urljoin(path, ref)))
    return {"rows": rows, "total": sum(r["wire"] for r in rows),
            "total_with_headers": sum(r["wire"] + r["headers"] for r in rows)}


def part_weight(stack: Stack) -> dict:
    stack.serve(stack.opts.workers, stack.opts.threads)
    print("\n== 1. page weight: a first visit (empty cache), every resource the page names, Accept-Encoding: gzip",
          flush=True)
    base = stack.points[0]["path"]
    results = {}
    for label, path in (("phone (QR code)", base), ("tablet (?kiosk=1)", base + "?kiosk=1")):
        w = _weigh(stack.port, path)
        results[label] = w
        print(f"\n{label}: GET {path}")
        header = f"  {'resource':<52}{'kind':<18}{'raw B':>8}{'sent B':>8}  {'encoding'}"
        print(header)
        for r in w["rows"]:
            print(f"  {r['url'][:51]:<52}{r['kind'][:17]:<18}{r['raw']:>8}{r['wire']:>8}  {r['how']}")
        print(f"  {'total (bodies as sent)':<70}{w['total']:>8}  goal <= {WEIGHT_GOAL}: "
              f"{'met' if w['total'] <= WEIGHT_GOAL else 'NOT met'}")
        print(f"  {'total with response headers (HTTP/1.1, uncompressed)':<70}{w['total_with_headers']:>8}")
    status, headers, data = get(stack.port, "/favicon.ico", gzip_ok=True)
    print(f"\n  not counted: /favicon.ico ({len(data)} B, HTTP {status}) — the page links favicon.svg; only browsers "
          "that ignore SVG icons ask for /favicon.ico")
    print("  The HTML is not compressed by the portal (Flask): it is counted as nginx with `gzip on;` would send it\n"
          "  (gzip_comp_level 1, nginx's default; a higher level only makes it smaller). Static files are\n"
          "  WhiteNoise's precompressed .gz (level 9) from the static build. 40 KB is taken as 40,000 bytes.",
          flush=True)
    return results


# -- 2. throughput -----------------------------------------------------------------------------------------
def part_throughput(stack: Stack) -> dict:
    import sqlalchemy as sa

    from bare_insert_app import TABLE_DDL

    opts = stack.opts
    stack.serve(opts.workers, opts.threads)
    print(f"\n== 2. throughput: kiosk POST vs a bare Flask insert, {describe(opts.workers, opts.threads)} each, "
          f"closed loop "
          f"({opts.connections} users in {opts.clients} client processes), {opts.warmup} s warm-up + "
          f"{opts.tp_duration} s each", flush=True)
    with stack.engine.begin() as conn:
        conn.execute(sa.text(TABLE_DDL))
    bare_port = free_port()
    bare_log = stack.tmp / "gunicorn-bare.log"
    bare = start_gunicorn("bare_insert_app:app", bare_port, opts.workers, BENCH_DIR,
                          {**os.environ, "BENCH_BARE_DATABASE_URL": stack.db_url}, bare_log, threads=opts.threads)
    wait_ready(bare, bare_port, "/", bare_log)

    budget = lambda seconds: int(seconds * TOKEN_BUDGET_RPS / opts.clients) + opts.connections  # noqa: E731
    targets = [
        ("bare Flask insert", bare_port, "bench_bare_feedback",
         lambda seconds, tag: (bare_requests, {"count": budget(seconds), "prefix": tag})),
        ("kiosk POST", stack.port, "feedback", lambda seconds, tag: stack.kiosk_source(budget(seconds), tag)),
    ]
    procs = {"bare Flask insert": bare, "kiosk POST": stack.proc}
    fresh = not opts.keep_alive
    print(f"  {load_line()} (before)", flush=True)
    results = {}
    for name, port, table, source in targets:
        if opts.warmup:
            closed_loop(port, opts.warmup, opts.connections, opts.clients, source=source(opts.warmup, f"w{name[0]}"),
                        capture=QUERY_CODE_RE, fresh=fresh)
        before = stack.count(table)
        cpu_before = stack.cpu_snapshot(procs[name])
        r = closed_loop(port, opts.tp_duration, opts.connections, opts.clients,
                        source=source(opts.tp_duration, f"m{name[0]}"), capture=QUERY_CODE_RE, fresh=fresh)
        app_cpu, pg_cpu = stack.cpu_used(procs[name], cpu_before)
        r["app_cpu_ms"] = app_cpu * 1000 / max(1, r["requests"])
        r["pg_cpu_ms"] = pg_cpu * 1000 / max(1, r["requests"])
        r["rows"] = stack.count(table) - before
        r["accepted"] = len(r["captured"])
        r["distinct_codes"] = len(set(r["captured"]))
        if table == "feedback":
            r["codes_stored"] = stack.stored_codes(r["captured"])
        results[name] = r
        print(f"  measured {name}: {r['rps']:.1f} req/s", flush=True)
        if r["exhausted"]:
            print(f"  warning: {name}: the requests made ahead ran out (more than {TOKEN_BUDGET_RPS}/s?): "
                  "raise TOKEN_BUDGET_RPS", flush=True)
    if bare.poll() is not None:
        print(f"warning: the bare gunicorn exited; log tail:\n{bare_log.read_text()[-2000:]}")
    stop(bare)
    stack.check_alive()
    load = load_line()

    print()
    header = (f"  {'target':<20}{'requests/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'200+code':>10}"
              f"{'rows':>7}{'non-200':>9}{'errors':>8}{'app CPU':>9}{'PG CPU':>8}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, r in results.items():
        print(f"  {name:<20}{r['rps']:>11.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['requests']:>10}{r['accepted']:>10}"
              f"{r['rows']:>7}{r['non_2xx']:>9}{r['errors']:>8}{r['app_cpu_ms']:>9.2f}{r['pg_cpu_ms']:>8.2f}")
    print("  (app CPU, PG CPU: CPU milliseconds per request of the gunicorn workers, and of the PostgreSQL backends\n"
          "   of the bench database, from /proc: less sensitive to the machine's other load than requests/s)")
    for name, r in results.items():
        problems = []
        if r["rows"] != r["accepted"]:
            problems.append(f"rows {r['rows']} != answers with a code {r['accepted']}")
        if r["distinct_codes"] != r["accepted"]:
            problems.append(f"only {r['distinct_codes']} distinct codes in {r['accepted']} answers")
        if "codes_stored" in r and r["codes_stored"] != r["accepted"]:
            problems.append(f"{r['accepted'] - r['codes_stored']} shown 查询码 not in the database")
        if r["non_2xx"] or r["errors"] or r["uncaptured"]:
            problems.append(f"statuses {r['statuses']}, errors {r['error_kinds']}, "
                            f"200 without a code {r['uncaptured']}")
        print(f"  {name}: " + ("; ".join(problems) if problems else
                                f"one new row per request ({r['rows']} rows, {r['distinct_codes']} distinct codes"
                                + (", every 查询码 found by its digest)" if "codes_stored" in r else ")")))
    ratio = results["kiosk POST"]["rps"] / results["bare Flask insert"]["rps"]
    kiosk, bare_r = results["kiosk POST"], results["bare Flask insert"]
    cost = (bare_r["app_cpu_ms"] + bare_r["pg_cpu_ms"]) / max(1e-9, kiosk["app_cpu_ms"] + kiosk["pg_cpu_ms"])
    print(f"\n  ratio kiosk / bare: {ratio:.2f}  (goal >= {RATIO_GOAL}: {'met' if ratio >= RATIO_GOAL else 'NOT met'})")
    print(f"  server CPU per request, bare / kiosk (app + PostgreSQL): {cost:.2f}  (what the ratio tends to when the "
          "server is CPU-bound)")
    print(f"  {load} (after); nproc {len(os.sched_getaffinity(0))}; the load generator runs on the same machine",
          flush=True)
    for r in results.values():
        r.pop("captured", None)
    return {"results": results, "ratio": ratio, "cpu_ratio": cost}


# -- 3. load -----------------------------------------------------------------------------------------------
def part_load(stack: Stack) -> dict:
    opts = stack.opts
    total = int(opts.duration * opts.rate)
    stack.serve(opts.load_workers, opts.load_threads)
    print(f"\n== 3. load: {opts.duration:g} s at {opts.rate:g} submissions/s ({total} scheduled, open loop, up to "
          f"{opts.max_in_flight} in flight, {opts.clients} client processes), "
          f"{describe(opts.load_workers, opts.load_threads)}, PostgreSQL + Redis", flush=True)
    fresh = not opts.keep_alive
    if opts.warmup:  # fresh workers: templates compiled, statements cached, connections open
        closed_loop(stack.port, opts.warmup, opts.connections, opts.clients, capture=QUERY_CODE_RE, fresh=fresh,
                    source=stack.kiosk_source(int(opts.warmup * TOKEN_BUDGET_RPS / opts.clients) + opts.connections,
                                              "wL"))
    print(f"  {load_line()} (before, after a {opts.warmup:g} s closed-loop warm-up)", flush=True)
    before = stack.count()
    per = total // opts.clients + 1
    cpu_before = stack.cpu_snapshot(stack.proc)
    r = open_loop(stack.port, opts.duration, opts.rate, opts.clients, source=stack.kiosk_source(per, "L"),
                  max_in_flight=opts.max_in_flight, capture=QUERY_CODE_RE, fresh=fresh, timeout=30)
    load = load_line()
    app_cpu, pg_cpu = stack.cpu_used(stack.proc, cpu_before)
    stack.check_alive()
    rows = stack.count() - before
    accepted = len(r["captured"])
    found = stack.stored_codes(r["captured"])
    distinct = len(set(r["captured"]))
    other = {s: n for s, n in r["statuses"].items() if s != 200}
    print(f"  scheduled {total}, answered {r['requests']} ({r['rps']:.1f}/s over {r['elapsed']:.1f} s), "
          f"client errors {r['errors']} {r['error_kinds'] or ''}, never sent (over 30 s behind): {r['dropped']}, "
          f"sent again on a fresh connection (kept-alive one closed by the server): {r['retried']}")
    print(f"  accepted (200 with a 查询码): {accepted}   stored rows: {rows}   accepted and found in the database: "
          f"{found}   lost: {accepted - found}   stored without an accepted answer: {rows - found}")
    print(f"  distinct 查询码: {distinct}   non-200 by status: {other or 'none'}   200 without a 查询码: {r['uncaptured']}")
    print(f"  latency from the scheduled time, ms: p50 {r['p50']:.1f}  p90 {r['p90']:.1f}  p99 {r['p99']:.1f}  "
          f"max {r['max']:.1f}")
    print(f"  sent late by (all in flight busy or the client starved), ms: p50 {r['lag_p50']:.1f}  "
          f"p99 {r['lag_p99']:.1f}  max {r['lag_max']:.1f}")
    per_post = (app_cpu + pg_cpu) * 1000 / max(1, r["requests"])
    print(f"  server CPU per answered submission: {app_cpu * 1000 / max(1, r['requests']):.2f} ms gunicorn workers + "
          f"{pg_cpu * 1000 / max(1, r['requests']):.2f} ms PostgreSQL = {per_post:.2f} ms: "
          f"{opts.rate:g}/s needs about {opts.rate * per_post / 1000:.1f} cores for these alone (nproc "
          f"{len(os.sched_getaffinity(0))}, shared with Redis, the load generator and anything else running)")
    r.update(app_cpu_ms=app_cpu * 1000 / max(1, r["requests"]), pg_cpu_ms=pg_cpu * 1000 / max(1, r["requests"]))
    ok = accepted == rows == found == distinct == total and not other and not r["errors"] and not r["dropped"]
    print(f"  {'every submission accepted and stored, 0 lost' if ok else 'NOT every submission accepted and stored'}")
    print(f"  {load} (after); nproc {len(os.sched_getaffinity(0))}; the load generator runs on the same machine",
          flush=True)
    r.pop("captured", None)
    r.update(accepted=accepted, rows=rows, found=found, distinct=distinct, scheduled=total)
    return r


# -- main --------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", metavar="PART", help="weight, throughput, load (default: all three)")
    ap.add_argument("--workers", type=int, default=2,
                    help="weight and throughput: gunicorn workers, the portal's and the bare app's (default 2)")
    ap.add_argument("--threads", type=int, default=1,
                    help="weight and throughput: threads per worker (default 1: sync workers, as bench/run_all.py)")
    ap.add_argument("--load-workers", type=int, default=4, help="load: gunicorn workers (default 4, as the README's "
                    "deployment)")
    ap.add_argument("--load-threads", type=int, default=4, help="load: threads per worker (default 4: gthread)")
    ap.add_argument("--tp-duration", type=float, default=10, help="throughput: measured seconds per target")
    ap.add_argument("--warmup", type=float, default=3,
                    help="warm-up seconds (closed loop) per throughput target and before the load")
    ap.add_argument("--connections", type=int, default=16, help="throughput: concurrent users")
    ap.add_argument("--clients", type=int, default=2, help="load generator processes (default 2)")
    ap.add_argument("--duration", type=float, default=60, help="load: seconds (default 60)")
    ap.add_argument("--rate", type=float, default=200, help="load: submissions per second (default 200)")
    ap.add_argument("--max-in-flight", type=int, default=128, help="load: most requests open at once")
    ap.add_argument("--plain", action="store_true", help="POST as a browser without JavaScript (not htmx)")
    ap.add_argument("--keep-alive", action="store_true", help="reuse client connections (default: one connection "
                    "per request, as nginx's default HTTP/1.0 proxying to gunicorn)")
    ap.add_argument("--points", type=int, default=4, help="service points to spread the submissions over")
    ap.add_argument("--no-demo", action="store_true", help="skip seed-demo (no department heads to notify)")
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL),
                    help="PostgreSQL server (the database name is replaced by bench_kiosk_<pid>)")
    ap.add_argument("--redis-url", default="", help="an existing Redis (default: a private redis-server)")
    ap.add_argument("--keep", action="store_true", help="keep the database and instance directory (debugging)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    opts = ap.parse_args()
    parts = opts.parts or ["weight", "throughput", "load"]
    unknown = [p for p in parts if p not in ("weight", "throughput", "load")]
    if unknown:
        ap.error(f"unknown part {', '.join(unknown)}: choose from weight, throughput, load")
    opts.tp_duration = max(1.0, min(opts.tp_duration, MAX_SECONDS))
    opts.warmup = max(0.0, min(opts.warmup, MAX_SECONDS))
    opts.duration = max(1.0, min(opts.duration, MAX_SECONDS))
    opts.rate = max(1.0, min(opts.rate, 5000.0))
    opts.connections = max(1, min(opts.connections, 256))
    opts.clients = max(1, min(opts.clients, 16))
    opts.max_in_flight = max(opts.clients, min(opts.max_in_flight, 1024))
    opts.points = max(1, min(opts.points, 50))
    for name in ("workers", "threads", "load_workers", "load_threads"):
        setattr(opts, name, max(1, min(getattr(opts, name), 32)))

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    print(f"kiosk bench: {', '.join(parts)}; nproc {len(os.sched_getaffinity(0))}; {load_line()}", flush=True)
    stack = Stack(opts)
    figures = {"parts": parts, "workers": opts.workers, "load_before": os.getloadavg()}
    try:
        stack.start()
        # Imported after the set-up: the portal's modules are then shared by the forked client processes.
        import portal.feedback.codes  # noqa: F401

        if "weight" in parts:
            figures["weight"] = part_weight(stack)
        if "throughput" in parts:
            figures["throughput"] = part_throughput(stack)
        if "load" in parts:
            figures["load"] = part_load(stack)
    finally:
        stack.close()
    figures["load_after"] = os.getloadavg()
    if opts.json:
        Path(opts.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        kill_children()
        print("\ninterrupted; every process started here stopped, the database dropped", file=sys.stderr)
        sys.exit(130)
