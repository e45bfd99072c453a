"""The daily digest at scale: build one working day's digests, then deliver every digest email.

What it does, on the local PostgreSQL, bounded in time, cleaning up after itself:

1. A fresh database (default postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_digest, or
   BENCH_DATABASE_URL; its name must contain "bench", since it is dropped and recreated), schema from the
   models (``db.create_all()``).
2. For each size (1,000 then 10,000 users): empty the tables, bulk-insert one department, N active users
   (each with the employee role; the first one is the department head) and 5 unread notifications per
   user created within the day before the digest time. Core executemany, no ORM object per row.
3. In a separate *spawned* process, started before this one imports the portal or seeds anything (Linux
   carries ru_maxrss across fork+exec, so its peak RSS is its own, not the parent's that holds the seed
   data): ``portal.notify.digest.build_day(day, now=...)`` for the most recent working day, then
   ``portal.notify.delivery.process`` on the returned delivery ids in batches of 50 (as ``run_digest``
   does after ``sweep``). No SMTP host is configured, so every email is captured in ``captured_email``:
   the real rendering and DB path, without the SMTP network.
   SQL statements are counted with a ``before_cursor_execute`` listener on the engine (an executemany
   counts once), separately for the build and the delivery phase, with the most frequent statements, the
   time spent inside them and the COMMITs. The delivery phase stops after --deliver-budget seconds (rate so
   far reported, marked PARTIAL) so that a loaded machine cannot stretch the run.
4. A report per size and the 10k / 1k ratios of queries per user and time per user.

The database is dropped at the end (also on Ctrl-C / SIGTERM); a child running longer than --timeout is
terminated.

    .venv/bin/python bench/digest_bench.py [--sizes 1000,10000] [--timeout 300] [--deliver-budget 180] [--top 8]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgdb import create_database, drop_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_digest"
REDIS_URL = "redis://127.0.0.1:6379/12"
NOTES_PER_USER = 5
DELIVERY_BATCH = 50  # what sweep() hands to process()
BUILD_GOAL = 0.05  # SQL queries per user in the build phase
DEFAULT_SIZES = (1000, 10000)
MAX_TIMEOUT = 900  # seconds per child, whatever the command line says


def make_app(url: str):
    from portal import create_app

    # SMTP_HOST "" pins the capture path even when the caller's environment names an SMTP server.
    return create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL,
                                         "SMTP_HOST": ""})


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- database ---------------------------------------------------------------------------------------
def pick_day() -> tuple[date, datetime]:
    """The most recent working day whose digest time has passed, and that moment (UTC). App context."""
    from flask import current_app

    from portal.workcal.services import WorkCalendar

    from portal.core.i18n import portal_tz

    tz = portal_tz()
    digest_at = dtime.fromisoformat(current_app.config["PORTAL_DIGEST_TIME"])
    local_now = datetime.now(tz)
    day = local_now.date()
    if local_now.time() < digest_at:
        day -= timedelta(days=1)
    cal = WorkCalendar()
    while not cal.is_workday(day):
        day -= timedelta(days=1)
    return day, datetime.combine(day, digest_at, tz).astimezone(timezone.utc)


def seed(n_users: int, now: datetime) -> float:
    """Empty every table and bulk-insert the data set; return the seconds it took. App context."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.notify.models import Notification
    from portal.org.models import Department, User, UserRole
    from portal.core.roles import DEPT_HEAD, EMPLOYEE

    t0 = time.perf_counter()
    db.session.remove()
    rng = random.Random(n_users)
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        dept_id = conn.execute(sa.insert(Department.__table__).values(
            code="BENCH", name="性能测试部", active=True, sort_order=0, created_at=now - timedelta(days=400),
        ).returning(Department.__table__.c.id)).scalar_one()
        created = now - timedelta(days=200)
        conn.execute(sa.insert(User.__table__), [
            {"username": f"bench{i:05d}", "display_name": f"测试用户{i:05d}", "email": f"bench{i:05d}@example.cn",
             "department_id": dept_id, "password_hash": "", "must_change_password": False,
             "session_nonce": f"{i:016x}", "active": True, "locale": None, "created_at": created}
            for i in range(1, n_users + 1)
        ])
        user_ids = list(conn.scalars(sa.select(User.__table__.c.id).order_by(User.__table__.c.id)))
        roles = [{"user_id": uid, "role": EMPLOYEE} for uid in user_ids]
        roles.append({"user_id": user_ids[0], "role": DEPT_HEAD})
        conn.execute(sa.insert(UserRole.__table__), roles)
        conn.execute(sa.update(Department.__table__).where(Department.__table__.c.id == dept_id)
                     .values(head_id=user_ids[0]))
        notes = []
        for uid in user_ids:
            for k in range(NOTES_PER_USER):
                notes.append({
                    "recipient_id": uid, "kind": "bench.digest_only", "title": f"质量问题 Q-{uid}-{k} 待您处理",
                    "body": "请在门户中查看详情并处理。", "link": f"/quality/issues/{uid * 10 + k}",
                    "department_id": dept_id, "dedupe_key": None, "read_at": None,
                    "created_at": now - timedelta(seconds=rng.randint(60, 23 * 3600)),
                })
        conn.execute(sa.insert(Notification.__table__), notes)
        conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - t0


# -- the measured child -----------------------------------------------------------------------------
_IN_LIST = re.compile(r"IN \((?:[^()]|\([^()]*\))*\)")
_VALUES = re.compile(r"VALUES \(.*", re.S)
_SPACES = re.compile(r"\s+")


def _shape(statement: str) -> str:
    s = _SPACES.sub(" ", statement).strip()
    s = _IN_LIST.sub("IN (…)", s)
    s = _VALUES.sub("VALUES (…)", s)
    return s if len(s) <= 150 else s[:147] + "..."


class QueryCounter:
    """SQL statements sent (before_cursor_execute: an executemany counts once), their shapes, the time
    spent in them (until after_cursor_execute) and the COMMITs, while active."""

    def __init__(self, engine):
        import sqlalchemy as sa

        self.engine = engine
        self.active = False
        self.start()
        self.active = False
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "commit", self._on_commit)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            self.total += 1
            self.shapes[_shape(statement)] += 1
            self._t0 = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.active and self._t0 is not None:
            self.sql_s += time.perf_counter() - self._t0
            self._t0 = None

    def _on_commit(self, conn):
        if self.active:
            self.commits += 1

    def start(self) -> None:
        self.total, self.shapes, self.sql_s, self.commits, self._t0 = 0, Counter(), 0.0, 0, None
        self.active = True

    def stop(self) -> dict:
        self.active = False
        return {"q": self.total, "shapes": self.shapes.most_common(), "sql_s": self.sql_s, "commits": self.commits}


def _measure(url: str, day_iso: str, now_iso: str, budget: float) -> dict:
    import sqlalchemy as sa
    from flask_babel import force_locale

    from portal.extensions import db
    from portal.notify.delivery import process
    from portal.notify.digest import build_day
    from portal.notify.models import SENT, CapturedEmail, Delivery, Digest

    day, now = date.fromisoformat(day_iso), datetime.fromisoformat(now_iso)
    app = make_app(url)
    out: dict = {}
    with app.app_context():
        counter = QueryCounter(db.engine)
        db.session.execute(sa.select(1))  # connect outside the measured phases
        db.session.commit()
        out["rss_ready_mb"] = maxrss_mb()

        # Phase 1: build (as run_digest does: under the portal's default locale).
        with force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
            counter.start()
            t0 = time.perf_counter()
            ids = build_day(day, now=now)
            out["build_s"] = time.perf_counter() - t0
            stats = counter.stop()
            out["build_q"], out["build_shapes"], out["build_sql_s"], out["build_commits"] = (
                stats["q"], stats["shapes"], stats["sql_s"], stats["commits"])
        out["rss_after_build_mb"] = maxrss_mb()
        out["digests"] = db.session.scalar(sa.select(sa.func.count()).select_from(Digest).where(Digest.day == day))
        out["deliveries"] = len(ids)
        db.session.commit()

        # Phase 2: delivery, in sweep-sized batches, the same ``now`` (the rows are due at it).
        sent = 0
        counter.start()
        t0 = time.perf_counter()
        attempted = 0
        for i in range(0, len(ids), DELIVERY_BATCH):
            if time.perf_counter() - t0 > budget:  # bounded: the rate so far is reported, marked partial
                break
            batch = ids[i:i + DELIVERY_BATCH]
            sent += process(batch, now)["sent"]
            attempted += len(batch)
        out["deliver_s"] = time.perf_counter() - t0
        out["attempted"] = attempted
        stats = counter.stop()
        out["deliver_q"], out["deliver_shapes"], out["deliver_sql_s"], out["deliver_commits"] = (
            stats["q"], stats["shapes"], stats["sql_s"], stats["commits"])
        out["sent"] = sent

        out["captured"] = db.session.scalar(sa.select(sa.func.count()).select_from(CapturedEmail))
        out["rows_sent"] = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)
                                             .where(Delivery.status == SENT))
        db.session.remove()
        db.engine.dispose()
    out["rss_peak_mb"] = maxrss_mb()
    return out


def _vm_hwm_mb() -> float | None:
    """VmHWM of this process image (Linux), a cross-check of ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def worker_main(conn) -> None:
    """Wait for one job (url, day, now, budget), run it, send the result back."""
    try:
        job = conn.recv()
    except EOFError:  # the parent gave up before sending a job
        return
    try:
        result = _measure(*job)
        result["vm_hwm_mb"] = _vm_hwm_mb()
        conn.send(("ok", result))
    except BaseException:  # report, whatever it was
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class Worker:
    """A spawned (fresh interpreter) measuring process, started while the parent is still small.

    Linux carries ru_maxrss across fork+exec: a process exec'd by a parent holding the 10k-user seed data
    would report the parent's peak as its own. Starting every worker before the parent imports the portal
    or seeds anything keeps the inherited floor at a bare interpreter's size."""

    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(child_end,), daemon=True, name="digest-bench-worker")
        self.proc.start()
        child_end.close()

    def run(self, url: str, day: date, now: datetime, timeout: float, budget: float) -> dict:
        try:
            self.conn.send((url, day.isoformat(), now.isoformat(), budget))
            if not self.conn.poll(timeout):
                raise TimeoutError(f"the measuring process did not finish within {timeout:.0f}s")
            status, payload = self.conn.recv()
            self.proc.join(30)
        except EOFError:
            self.proc.join(5)
            raise RuntimeError(f"the measuring process died (exit code {self.proc.exitcode})")
        finally:
            self.stop()
        if status != "ok":
            raise RuntimeError("the measuring process failed:\n" + payload)
        return payload

    def stop(self) -> None:
        self.conn.close()  # an idle worker sees EOF and exits
        proc = self.proc
        proc.join(2)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


# -- report -----------------------------------------------------------------------------------------
def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def report(n: int, setup_s: float, r: dict, top: int) -> None:
    reached = max(r["attempted"], 1)  # users whose digest email the delivery phase got to (all, unless partial)
    partial = r["attempted"] < r["deliveries"]
    bq, dq = r["build_q"] / n, r["deliver_q"] / reached
    verdict = "ok" if bq <= BUILD_GOAL else "ABOVE GOAL"
    print(f"\n== {n:,} users, {NOTES_PER_USER} unread notifications each (seeded in {setup_s:.1f}s) ==")
    print(f"  users                         {n:>12,}")
    print(f"  digests built                 {r['digests']:>12,}   (email deliveries: {r['deliveries']:,})")
    print(f"  build seconds                 {r['build_s']:>12.3f}   (in SQL statements {r['build_sql_s']:.3f}s, "
          f"{r['build_commits']:,} commits)")
    print(f"  digests/s (build)             {_rate(r['digests'], r['build_s']):>12,.0f}")
    print(f"  delivery seconds              {r['deliver_s']:>12.3f}   (batches of {DELIVERY_BATCH}"
          + (f"; PARTIAL: budget reached after {r['attempted']:,} of {r['deliveries']:,}" if partial else "")
          + f"; in SQL statements {r['deliver_sql_s']:.3f}s, {r['deliver_commits']:,} commits)")
    print(f"  emails/s                      {_rate(r['sent'], r['deliver_s']):>12,.0f}   "
          f"(sent {r['sent']:,}; captured rows {r['captured']:,}; delivery rows sent {r['rows_sent']:,})")
    print(f"  SQL queries, build            {r['build_q']:>12,}   = {bq:.4f}/user (goal <= {BUILD_GOAL}: {verdict})")
    print(f"  SQL queries, delivery         {r['deliver_q']:>12,}   = {dq:.2f}/user (one digest email per user)")
    hwm = f", VmHWM {r['vm_hwm_mb']:.1f} MB" if r.get("vm_hwm_mb") else ""
    print(f"  peak RSS of the worker        {r['rss_peak_mb']:>12.1f} MB   "
          f"(ru_maxrss; after app start {r['rss_ready_mb']:.1f} MB, after build {r['rss_after_build_mb']:.1f} MB{hwm})")
    for phase, key, total, per in (("build", "build_shapes", r["build_q"], n),
                                   ("delivery", "deliver_shapes", r["deliver_q"], reached)):
        print(f"  most frequent statements, {phase} (count, per user):")
        for shape, count in r[key][:top]:
            print(f"    {count:>7,}  {count / per:>7.3f}  {shape}")
        rest = total - sum(c for _s, c in r[key][:top])
        if rest:
            print(f"    {rest:>7,}  (other statements)")


def _per_user(r: dict, n: int) -> dict:
    reached = max(r["attempted"], 1)
    return {"build_q": r["build_q"] / n, "build_s": r["build_s"] / n,
            "deliver_q": r["deliver_q"] / reached, "deliver_s": r["deliver_s"] / reached}


def report_ratios(small: int, rs: dict, big: int, rb: dict) -> None:
    a, b = _per_user(rs, small), _per_user(rb, big)

    def ratio(key: str) -> str:
        return f"{b[key] / a[key]:.2f}" if a[key] else "n/a"

    print(f"\n== ratios {big:,} / {small:,} users (per user; 1.00 = linear growth, below 1 = per-batch costs "
          f"amortised) ==")
    print(f"  build    queries/user  {a['build_q']:.4f} -> {b['build_q']:.4f}   ratio {ratio('build_q')}")
    print(f"  build    time/user     {a['build_s'] * 1e3:.3f} ms -> {b['build_s'] * 1e3:.3f} ms   "
          f"ratio {ratio('build_s')}")
    print(f"  delivery queries/user  {a['deliver_q']:.2f} -> {b['deliver_q']:.2f}   ratio {ratio('deliver_q')}")
    print(f"  delivery time/user     {a['deliver_s'] * 1e3:.3f} ms -> {b['deliver_s'] * 1e3:.3f} ms   "
          f"ratio {ratio('deliver_s')}")
    print(f"  peak RSS               {rs['rss_peak_mb']:.1f} MB -> {rb['rss_peak_mb']:.1f} MB   "
          f"ratio {rb['rss_peak_mb'] / rs['rss_peak_mb']:.2f}")


# -- main -------------------------------------------------------------------------------------------
def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated user counts (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per measuring process (max 900)")
    parser.add_argument("--deliver-budget", type=float, default=180,
                        help="stop the delivery phase after this many seconds and report the rate so far")
    parser.add_argument("--top", type=int, default=8, help="statements listed per phase")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 100_000:
        parser.error("sizes must be between 1 and 100000")
    timeout = min(max(args.timeout, 10), MAX_TIMEOUT)

    import sqlalchemy as sa

    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    name = sa.engine.make_url(url).database or ""
    if "bench" not in name:
        print(f"refusing to drop and recreate database {name!r}: its name must contain 'bench'", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _on_sigterm)
    instance = Path(tempfile.mkdtemp(prefix="portal-digest-bench-"))
    os.environ["PORTAL_INSTANCE_DIR"] = str(instance)  # read when config is imported; the child inherits it
    os.environ.pop("SMTP_HOST", None)
    created = False
    app = None
    workers: list[Worker] = []
    try:
        workers = [Worker() for _n in sizes]  # now, while this process is small (see Worker)
        try:
            create_database(url)
        except sa.exc.OperationalError as exc:
            print(f"PostgreSQL is not reachable at {sa.engine.make_url(url).render_as_string()}: {exc}",
                  file=sys.stderr)
            return 2
        created = True
        from portal.extensions import db

        app = make_app(url)
        with app.app_context():
            db.create_all()
            day, now = pick_day()
            db.session.remove()
        print(f"digest bench: database {name}, day {day.isoformat()} (digest at {now.isoformat()}), "
              f"sizes {', '.join(f'{s:,}' for s in sizes)}; worker = spawned process; emails captured in DB")
        results: dict[int, dict] = {}
        for n, worker in zip(sizes, workers):
            with app.app_context():
                setup_s = seed(n, now)
                db.session.remove()
            results[n] = worker.run(url, day, now, timeout, min(args.deliver_budget, timeout * 0.8))
            report(n, setup_s, results[n], args.top)
        if len(sizes) >= 2:
            report_ratios(sizes[0], results[sizes[0]], sizes[-1], results[sizes[-1]])
        worst = max(results[n]["build_q"] / n for n in sizes)
        print(f"\nbuild phase: {worst:.4f} SQL queries/user at worst (goal <= {BUILD_GOAL}): "
              f"{'ok' if worst <= BUILD_GOAL else 'ABOVE GOAL'}")
        return 0
    finally:
        for worker in workers:
            worker.stop()
        if app is not None:
            from portal.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if created:
            drop_database(url)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
