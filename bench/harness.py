"""What the benchmarks share: the processes they start (gunicorn, a private redis-server), all stopped on exit,
and two Python load generators that run in separate client processes.

* :func:`closed_loop`: ``connections`` users, each with its own keep-alive connection, sending one request at a
  time for ``duration`` seconds, as fast as the server answers (requests/s is the figure).
* :func:`open_loop`: requests at a fixed ``rate`` (per second) for ``duration`` seconds, each sent at its
  scheduled time whether or not earlier ones were answered (up to ``max_in_flight`` at once); latency counts from
  the scheduled time, so a server (or a client) that falls behind shows as latency, not as a lower rate.

The requests come from a *source*: ``(function, kwargs)``, called in each client process as
``function(index=i, processes=n, **kwargs)`` before its clock starts; it returns an iterable of
``(method, path, body, headers)``. A finite source ends the process's run early (reported as ``exhausted``).
``fresh=True``: every request on a connection of its own (``Connection: close``), as behind nginx, whose default
upstream proxying is HTTP/1.0, one connection per request.
:func:`repeat` is the source of a single request sent again and again. ``capture``: a regular expression (bytes)
searched in the body of every 200 response; its first group is returned per response (``captured``).

Gunicorn's sync workers close the connection after each response; ``http.client`` then reconnects. A kept-alive
connection (gthread workers) idle for more than a second is closed by the client before its next request, and a
request that finds its kept-alive connection closed by the server is sent once more on a fresh one, as a browser
would (counted as ``retried``).
"""
from __future__ import annotations

import http.client
import itertools
import multiprocessing
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

HOST = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent

Request = tuple  # (method, path, body: bytes | None, headers: dict)


# -- processes ----------------------------------------------------------------------------------------------
_children: list[subprocess.Popen] = []


def stop(proc: subprocess.Popen) -> None:
    """Stop one process started here (and its process group): SIGTERM, SIGKILL after 5 s."""
    if proc in _children:
        _children.remove(proc)
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def kill_children() -> None:
    """Stop every process started here."""
    while _children:
        stop(_children[-1])


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def tool(name: str) -> str:
    path = VENV_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def start_gunicorn(app_spec: str, port: int, workers: int, cwd: Path, env: dict, log: Path,
                   threads: int = 1) -> subprocess.Popen:
    """gunicorn in its own process group: ``workers`` sync workers, or gthread workers when ``threads`` > 1."""
    cmd = [
        tool("gunicorn"),
        "--workers", str(workers),
        *(["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]),
        "--bind", f"{HOST}:{port}",
        "--chdir", str(cwd),
        "--log-level", "warning",
        "--timeout", "30",
        "--graceful-timeout", "3",
        app_spec,
    ]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    _children.append(proc)
    return proc


def wait_ready(proc: subprocess.Popen, port: int, path: str, log: Path, timeout: float = 30.0) -> tuple[int, int]:
    """Wait until ``GET path`` answers; return (status, body size)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            return resp.status, len(body)
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    sys.stderr.write(log.read_text(errors="replace")[-3000:])
    raise SystemExit(f"gunicorn on port {port} did not answer GET {path}: {last or 'exited'}")


def start_redis(directory: Path, timeout: float = 10.0) -> str:
    """A private redis-server on a free loopback port (no persistence); returns its URL."""
    server = shutil.which("redis-server")
    if not server:
        raise SystemExit("redis-server is not on PATH (Debian: apt-get install redis-server), or set --redis-url")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    _children.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://{HOST}:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the private redis-server did not start")


def run(cmd: list[str], env: dict, what: str, cwd: Path) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-2000:] + res.stderr[-2000:])
        raise SystemExit(f"{what} failed (exit {res.returncode})")
    return res


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user + system) of a live process, from /proc (Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def cpu_seconds(pids: list[int], with_children: bool = True) -> float:
    """CPU seconds used so far by these processes (and, by default, their descendants: gunicorn's workers).
    Less sensitive to other load on the machine than requests/s; 0.0 where /proc is missing."""
    if not Path("/proc").is_dir():
        return 0.0
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = st
    wanted = set(pids)
    if with_children:
        grew = True
        while grew:
            more = {pid for pid, (ppid, _cpu) in stats.items() if ppid in wanted and pid not in wanted}
            wanted |= more
            grew = bool(more)
    return sum(stats[pid][1] for pid in wanted if pid in stats)


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds so far of each of these processes (alone, no descendants); missing ones left out."""
    return {pid: st[1] for pid in pids if (st := _proc_stat(pid)) is not None}


def load_line() -> str:
    load1, load5, load15 = os.getloadavg()
    return f"load average {load1:.2f} (1 min), {load5:.2f} (5 min), {load15:.2f} (15 min)"


# -- sources ------------------------------------------------------------------------------------------------
def repeat(index: int, processes: int, request: Request):
    """The same request again and again."""
    return itertools.repeat(request)


def _source(spec, index: int, processes: int):
    function, kwargs = spec
    return iter(function(index=index, processes=processes, **kwargs))


def _client_init() -> None:
    # Forked clients: Ctrl-C and SIGTERM are the parent's business (it terminates the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: A kept-alive connection idle longer than this is closed before the next request (gunicorn's gthread workers
#: close idle connections after --keep-alive, 2 s by default; a request sent just then would fail).
IDLE_RECONNECT = 1.0
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


def _send(conn: http.client.HTTPConnection, request: Request, capture, tally=None,
          fresh: bool = False) -> tuple[int, str | None]:
    """Send one request; on a reused keep-alive connection that the server had closed (the request never
    reached it), reconnect and send once more, as browsers do (counted in ``tally.retried``). ``fresh``: a
    connection of its own (``Connection: close``), as nginx's default proxying (HTTP/1.0 upstream) does."""
    method, path, body, headers = request
    if fresh:
        headers = {**headers, "Connection": "close"}
    now = time.monotonic()
    if conn.sock is not None and now - getattr(conn, "last_used", now) > IDLE_RECONNECT:
        conn.close()
    reused = conn.sock is not None
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
    except _STALE:
        if not reused:
            raise
        conn.close()
        if tally is not None:
            with tally.lock:
                tally.retried += 1
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
    data = resp.read()
    conn.last_used = time.monotonic()
    if resp.will_close:
        conn.close()
    found = None
    if capture is not None and resp.status == 200:
        match = capture.search(data)
        found = match.group(1).decode("ascii", "replace") if match else None
    return resp.status, found


class _Tally:
    """What one client process saw (merged by the parent)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []  # ms, completed requests
        self.lags: list[float] = []  # ms, open loop: actual send time - scheduled time
        self.statuses: Counter = Counter()
        self.errors: Counter = Counter()
        self.captured: list[str] = []
        self.uncaptured = 0  # 200 responses without the captured text
        self.exhausted = False
        self.dropped = 0  # open loop: not sent at all, more than ``timeout`` s behind the schedule
        self.retried = 0  # sent again on a fresh connection: the kept-alive one had been closed by the server

    def add(self, latency, status, found, capture, lag=None):
        with self.lock:
            self.latencies.append(latency)
            self.statuses[status] += 1
            if lag is not None:
                self.lags.append(lag)
            if capture is not None and status == 200:
                if found is None:
                    self.uncaptured += 1
                else:
                    self.captured.append(found)

    def error(self, exc: BaseException):
        with self.lock:
            self.errors[type(exc).__name__] += 1

    def result(self, elapsed: float) -> dict:
        return {"latencies": self.latencies, "lags": self.lags, "statuses": dict(self.statuses),
                "errors": dict(self.errors), "captured": self.captured, "uncaptured": self.uncaptured,
                "exhausted": self.exhausted, "dropped": self.dropped, "retried": self.retried,
                "elapsed": elapsed}


def _closed_client(args) -> dict:
    port, duration, conns, spec, capture_re, index, processes, timeout, fresh = args
    capture = re.compile(capture_re) if capture_re else None
    requests = _source(spec, index, processes)
    if not isinstance(requests, itertools.repeat):
        requests = iter(list(requests))  # made before the clock starts
    pull = threading.Lock()
    tally = _Tally()
    started = time.monotonic()
    stop_at = started + duration

    def user():
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        while time.monotonic() < stop_at:
            with pull:
                request = next(requests, None)
            if request is None:
                tally.exhausted = True
                break
            t0 = time.perf_counter()
            try:
                status, found = _send(conn, request, capture, tally, fresh)
            except (OSError, http.client.HTTPException) as exc:
                tally.error(exc)
                conn.close()
                continue
            tally.add((time.perf_counter() - t0) * 1000.0, status, found, capture)
        conn.close()

    threads = [threading.Thread(target=user, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + timeout + 10)
    return tally.result(time.monotonic() - started)


def _open_client(args) -> dict:
    port, duration, rate, phase, in_flight, spec, capture_re, start_at, timeout, index, processes, fresh = args
    capture = re.compile(capture_re) if capture_re else None
    # made before the clock starts
    requests = iter(list(itertools.islice(_source(spec, index, processes), int(duration * rate) + 1)))
    tally = _Tally()
    jobs: queue.Queue = queue.Queue()

    def worker():
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        while True:
            job = jobs.get()
            if job is None:
                break
            scheduled, request = job
            sent = time.monotonic()
            if sent - scheduled > timeout:  # the server is that far behind: give up (bounds the run's length)
                with tally.lock:
                    tally.dropped += 1
                continue
            try:
                status, found = _send(conn, request, capture, tally, fresh)
            except (OSError, http.client.HTTPException) as exc:
                tally.error(exc)
                conn.close()
                continue
            done = time.monotonic()
            tally.add((done - scheduled) * 1000.0, status, found, capture, lag=(sent - scheduled) * 1000.0)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(in_flight)]
    for t in threads:
        t.start()
    count = int(duration * rate)
    while time.monotonic() < start_at:
        time.sleep(min(0.05, max(0.0, start_at - time.monotonic())))
    for k in range(count):
        scheduled = start_at + (k + phase) / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        request = next(requests, None)
        if request is None:
            tally.exhausted = True
            break
        jobs.put((scheduled, request))
    for _ in threads:
        jobs.put(None)
    deadline = time.monotonic() + timeout + 10
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    return tally.result(time.monotonic() - start_at)


def _pool_map(function, tasks: list) -> list[dict]:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(len(tasks), initializer=_client_init) as pool:
        try:
            return pool.map(function, tasks, chunksize=1)
        except BaseException:
            pool.terminate()
            raise


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def _merge(parts: list[dict], elapsed: float) -> dict:
    lat = [x for part in parts for x in part["latencies"]]
    lags = [x for part in parts for x in part["lags"]]
    statuses: Counter = Counter()
    errors: Counter = Counter()
    for part in parts:
        statuses.update(part["statuses"])
        errors.update(part["errors"])
    ok = sum(n for status, n in statuses.items() if 200 <= status < 400)
    return {
        "rps": len(lat) / elapsed if elapsed > 0 else 0.0,
        "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": max(lat) if lat else float("nan"),
        "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags) if lags else float("nan"),
        "requests": len(lat),
        "non_2xx": len(lat) - ok,
        "statuses": dict(sorted(statuses.items())),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "captured": [c for part in parts for c in part["captured"]],
        "uncaptured": sum(part["uncaptured"] for part in parts),
        "exhausted": any(part["exhausted"] for part in parts),
        "dropped": sum(part["dropped"] for part in parts),
        "retried": sum(part["retried"] for part in parts),
        "elapsed": elapsed,
    }


def closed_loop(port: int, duration: float, connections: int, processes: int, source=None, request: Request = None,
                capture: bytes | None = None, timeout: float = 10.0, fresh: bool = False) -> dict:
    """``connections`` users in ``processes`` client processes, one request at a time each, for ``duration`` s.
    Returns rps, p50/p90/p99/max (ms), requests, non_2xx, statuses, errors, captured, exhausted."""
    if source is None:
        source = (repeat, {"request": request})
    procs = max(1, min(processes, connections))
    per = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    parts = _pool_map(_closed_client, [(port, duration, n, source, capture, i, procs, timeout, fresh)
                                       for i, n in enumerate(per)])
    result = _merge(parts, max(duration, max(part["elapsed"] for part in parts)))
    if not result["requests"]:
        raise RuntimeError("the load generator completed no request")
    return result


def open_loop(port: int, duration: float, rate: float, processes: int, source, max_in_flight: int = 128,
              capture: bytes | None = None, timeout: float = 30.0, fresh: bool = False) -> dict:
    """``rate`` requests per second for ``duration`` s, paced by a schedule (open loop), spread over
    ``processes`` client processes (each sends every ``processes``-th slot). Latency counts from the scheduled
    time; ``lag_*`` is how late requests were sent (all ``max_in_flight`` busy, or a starved client). A request
    still unsent ``timeout`` s after its scheduled time is dropped (``dropped``), so a run against a server that
    cannot keep up ends at most about 2 × ``timeout`` s after ``duration``."""
    procs = max(1, processes)
    per_rate = rate / procs
    in_flight = max(1, max_in_flight // procs)
    start_at = time.monotonic() + 1.5 + 0.00002 * duration * rate  # room for the clients to make their requests
    tasks = [(port, duration, per_rate, i / procs, in_flight, source, capture, start_at, timeout, i, procs, fresh)
             for i in range(procs)]
    parts = _pool_map(_open_client, tasks)
    return _merge(parts, max(duration, max(part["elapsed"] for part in parts)))

