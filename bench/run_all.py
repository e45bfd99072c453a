"""``make bench``: the portal's speed under gunicorn, next to a bare Flask app, in one run.

What it does, all on 127.0.0.1, bounded in time, stopping by itself:

1. A temporary instance directory with a SQLite database: ``flask db upgrade`` and ``flask portal
   seed-demo`` (seed-demo refuses PORTAL_CONFIG=production by design, so it alone runs with
   PORTAL_CONFIG=development against the same instance directory and database).
2. Two gunicorns, 2 sync workers each, on free loopback ports: (a) bench/bare_app.py, (b) the portal
   (``wsgi:app``, PORTAL_CONFIG=production, external Redis at REDIS_URL).
3. Load, one target after the other (a warm-up, then the measured run): GET / of the bare app,
   GET /login and GET /healthz of the portal. The load generator is a separate process: ``wrk`` when it
   is on PATH, otherwise a multi-process Python client (http.client, keep-alive when the server allows).
4. A table: requests/s, p50 and p99 latency, and the ratio portal-login / bare-flask (goal >= 0.6).

Both gunicorns are killed on exit, also on Ctrl-C and SIGTERM; the temporary directory is removed.

    .venv/bin/python bench/run_all.py [--duration 10] [--warmup 3] [--connections 16] [--threads 2]
                                      [--workers 2] [--loadgen auto|wrk|python] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from harness import HOST, closed_loop, free_port, start_gunicorn, tool, wait_ready  # noqa: E402
from harness import kill_children as _kill_children, on_sigterm as _on_sigterm, run as _run  # noqa: E402

GOAL = 0.6
MAX_DURATION = 60  # seconds per target, whatever the command line says
MAX_CONNECTIONS = 256


def run(cmd: list[str], env: dict, what: str) -> subprocess.CompletedProcess:
    return _run(cmd, env, what, ROOT)


# -- load generators --------------------------------------------------------------------------------
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def load_wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency", url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    out = res.stdout
    if res.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {res.stderr.strip() or out.strip()}")
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0,
        "errors": 0,
    }
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result["errors"] = sum(int(g) for g in m.groups())
    return result


def load_python(url: str, duration: int, connections: int, threads: int) -> dict:
    """The multi-process Python client of bench/harness.py: ``connections`` keep-alive users in ``threads``
    processes, one GET at a time each."""
    m = re.fullmatch(r"http://([\d.]+):(\d+)(/.*)", url)
    port, path = int(m.group(2)), m.group(3)
    return closed_loop(port, duration, connections, threads, request=("GET", path, None, {}), timeout=5)


# -- main -------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per target (default 10)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up seconds per target (default 3)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads / Python client processes")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per app")
    ap.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    opts = ap.parse_args()
    duration = max(1, min(opts.duration, MAX_DURATION))
    warmup = max(0, min(opts.warmup, MAX_DURATION))
    connections = max(1, min(opts.connections, MAX_CONNECTIONS))
    threads = max(1, min(opts.threads, connections))

    if opts.loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--loadgen wrk: wrk is not on PATH (Debian: apt-get install wrk)")
    use_wrk = opts.loadgen == "wrk" or (opts.loadgen == "auto" and shutil.which("wrk"))
    loadgen = load_wrk if use_wrk else load_python
    loadgen_name = "wrk" if use_wrk else "python (http.client, multi-process)"

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    try:
        env = dict(os.environ)
        for name in ("DATABASE_URL", "PORTAL_PROXY_COUNT", "FLASK_DEBUG"):
            env.pop(name, None)
        env.update(
            PORTAL_INSTANCE_DIR=str(tmp),
            PORTAL_CONFIG="production",
            SECRET_KEY=secrets.token_hex(32),
            # Production refuses to start without an audit key (config.ProductionConfig.validate).
            PORTAL_AUDIT_KEY=secrets.token_hex(32),
            PORTAL_SECURE_COOKIES="0",
            REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        flask = [tool("flask"), "--app", "wsgi"]
        print(f"instance dir: {tmp}", flush=True)
        run(flask + ["db", "upgrade"], env, "flask db upgrade")
        seed = run(flask + ["portal", "seed-demo"], {**env, "PORTAL_CONFIG": "development"}, "flask portal seed-demo")
        print(f"seed-demo (PORTAL_CONFIG=development, same database): {seed.stdout.strip()}", flush=True)

        bare_port, portal_port = free_port(), free_port()
        while portal_port == bare_port:
            portal_port = free_port()
        bare_log, portal_log = tmp / "gunicorn-bare.log", tmp / "gunicorn-portal.log"
        bare = start_gunicorn("bare_app:app", bare_port, opts.workers, BENCH_DIR, env, bare_log)
        portal = start_gunicorn("wsgi:app", portal_port, opts.workers, ROOT, env, portal_log)
        sizes = {
            "bare": wait_ready(bare, bare_port, "/", bare_log),
            "login": wait_ready(portal, portal_port, "/login", portal_log),
            "healthz": wait_ready(portal, portal_port, "/healthz", portal_log),
        }
        for name, (status, size) in sizes.items():
            if status != 200:
                sys.stderr.write(portal_log.read_text(errors="replace")[-3000:])
                raise SystemExit(f"{name}: HTTP {status} before the load; refusing to measure an error page")

        bare_size, login_size = sizes["bare"][1], sizes["login"][1]
        if abs(bare_size - login_size) > 0.1 * login_size:
            print(f"warning: bare page {bare_size} B vs portal login {login_size} B: more than 10% apart; "
                  "update bench/templates/bare_login.html", flush=True)
        targets = [
            ("bare-flask GET /", f"http://{HOST}:{bare_port}/", sizes["bare"][1]),
            ("portal GET /login", f"http://{HOST}:{portal_port}/login", sizes["login"][1]),
            ("portal GET /healthz", f"http://{HOST}:{portal_port}/healthz", sizes["healthz"][1]),
        ]
        ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(
            f"nproc: {ncpu}   gunicorn: {opts.workers} sync workers per app   load generator: {loadgen_name}, "
            f"{threads} threads, {connections} connections, {warmup} s warm-up + {duration} s per target",
            flush=True,
        )
        load1, load5, _ = os.getloadavg()
        print(f"load average before the run: {load1:.2f} (1 min), {load5:.2f} (5 min); other busy processes skew the figures", flush=True)
        results = {}
        for name, url, _size in targets:
            if warmup:
                loadgen(url, warmup, connections, threads)
            results[name] = loadgen(url, duration, connections, threads)
            print(f"  measured {name}: {results[name]['rps']:.1f} req/s", flush=True)
        for proc, log in ((bare, bare_log), (portal, portal_log)):
            if proc.poll() is not None:
                print(f"warning: a gunicorn exited during the run; log tail:\n{log.read_text()[-2000:]}")
    finally:
        _kill_children()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    header = f"{'target':<22}{'bytes':>7}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for name, _url, size in targets:
        r = results[name]
        print(
            f"{name:<22}{size:>7}{r['rps']:>12.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{r['requests']:>10}{r['non_2xx']:>9}{r['errors']:>8}"
        )
    ratio = results["portal GET /login"]["rps"] / results["bare-flask GET /"]["rps"]
    print()
    print(f"nproc: {ncpu}")
    print(f"ratio portal-login / bare-flask: {ratio:.2f}  (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})")
    if opts.json:
        Path(opts.json).write_text(
            json.dumps(
                {"nproc": ncpu, "loadgen": loadgen_name, "duration": duration, "connections": connections,
                 "workers": opts.workers, "results": results, "ratio_login_bare": ratio},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        _kill_children()
        print("\ninterrupted; gunicorns stopped", file=sys.stderr)
        sys.exit(130)
