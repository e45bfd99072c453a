"""The responsibility matrix grid (GET /quality/matrix/) at two sizes: SQL queries and render time.

What it does, bounded in time, cleaning up after itself:

1. A fresh database: by default PostgreSQL postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_matrix
   (or --url / BENCH_DATABASE_URL; a PostgreSQL database's name must contain "bench", since it is dropped
   and recreated), or a temporary SQLite file with --url sqlite. Schema from the models (``db.create_all()``).
2. For each size (30 processes × 10 departments, then 300 × 40): empty the tables, then bulk-insert (Core
   executemany, no ORM object per row) the departments, an administrator, the GB/T 19001 clauses, the
   processes (two clause references each) and a complete matrix: every cell filled, exactly one A per
   process, and one matrix revision.
3. The administrator logs in through the real login form of the Flask test client; GET /quality/matrix/
   is rendered once to warm up, then --reps times. SQL statements are counted per render with a
   ``before_cursor_execute`` listener on the engine.
4. Per size: queries per render (goal for 300 × 40: at most 10, whatever the size), the median and min
   render time; then the ratio of the render times 300×40 / 30×10 next to the ratio of cells (40×).

The database is dropped at the end (also on Ctrl-C / SIGTERM); the whole run is stopped after --timeout
seconds.

    .venv/bin/python bench/matrix_bench.py [--url URL|sqlite] [--reps 7] [--timeout 300] [--top 0]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgdb import create_database, drop_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_matrix"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SIZES = ((30, 10), (300, 40))  # (processes, departments)
QUERY_GOAL = 10  # per render of the 300 × 40 grid
PASSWORD = "Bench-passw0rd"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


# -- database ---------------------------------------------------------------------------------------
def empty_tables() -> None:
    import sqlalchemy as sa

    from portal.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}"'))
            conn.execute(sa.text("PRAGMA foreign_keys=ON"))


# -- seed -------------------------------------------------------------------------------------------
def seed(n_processes: int, n_departments: int) -> dict:
    """Bulk-insert a complete n_processes × n_departments matrix; returns what was inserted."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.org.models import Department, User, UserRole
    from portal.core.roles import ADMIN
    from portal.processes.clauses import ensure_clauses
    from portal.processes.models import IsoClause, Process, process_clause
    from portal.raci.models import RaciAssignment, RaciRevision

    now = utcnow()
    empty_tables()
    ensure_clauses(db.session)
    db.session.commit()
    clause_ids = list(db.session.scalars(sa.select(IsoClause.id).order_by(IsoClause.sort_key)))
    db.session.remove()  # hold no transaction (on SQLite: no write lock) while the bulk inserts run
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Department), [
            {"id": i + 1, "code": f"B{i + 1:03d}", "name": f"基准部门{i + 1:03d}", "active": True,
             "sort_order": i, "created_at": now} for i in range(n_departments)])
        conn.execute(sa.insert(User), [{
            "id": 1, "username": "bench_admin", "display_name": "基准管理员", "email": "bench@example.cn",
            "department_id": 1, "password_hash": generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
            "must_change_password": False, "session_nonce": "benchnonce", "active": True, "created_at": now}])
        conn.execute(sa.insert(UserRole), [{"user_id": 1, "role": ADMIN}])
        conn.execute(sa.insert(Process), [
            {"id": p + 1, "code": f"BP-{p + 1:03d}", "name": f"基准过程{p + 1:03d}", "description": "",
             "active": True, "sort_order": p, "created_at": now} for p in range(n_processes)])
        conn.execute(sa.insert(process_clause), [
            {"process_id": p + 1, "clause_id": clause_ids[(p * 2 + k) % len(clause_ids)]}
            for p in range(n_processes) for k in range(2)])
        letters = "RCI"
        conn.execute(sa.insert(RaciAssignment), [
            {"process_id": p + 1, "department_id": d + 1,
             "role": "A" if d == p % n_departments else letters[(p + d) % 3],
             "updated_at": now, "updated_by_id": None}
            for p in range(n_processes) for d in range(n_departments)])
        conn.execute(sa.insert(RaciRevision), [{"created_at": now, "actor_id": None, "source": "import",
                                                "changes": n_processes * n_departments}])
        if conn.dialect.name == "postgresql":
            for table in ("department", "user", "process"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{table}\"))"))
    cells = db.session.scalar(sa.select(sa.func.count()).select_from(RaciAssignment))
    a_cells = db.session.scalar(sa.select(sa.func.count()).select_from(RaciAssignment)
                                .where(RaciAssignment.role == "A"))
    db.session.remove()
    assert cells == n_processes * n_departments and a_cells == n_processes, (cells, a_cells)
    return {"cells": cells}


# -- measurement ------------------------------------------------------------------------------------
class QueryCounter:
    def __init__(self, engine):
        import sqlalchemy as sa

        self.engine = engine
        self.active = False
        self.statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            self.statements.append(" ".join(statement.split())[:160])

    def close(self) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._before)


def login(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    response = client.post("/login", data={"username": "bench_admin", "password": PASSWORD},
                           headers={"X-CSRFToken": token})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login failed with {response.status_code}: {response.get_data(as_text=True)[:300]}")


def measure(app, n_processes: int, n_departments: int, reps: int) -> dict:
    from portal.extensions import db

    with app.app_context():
        seeded = seed(n_processes, n_departments)
        engine = db.engine
    # No application context is held around the requests: each request has its own, and so its own
    # database session, as in production.
    client = app.test_client()
    login(client)
    counter = QueryCounter(engine)
    try:
        warm = client.get("/quality/matrix/")
        body = warm.get_data(as_text=True)
        if warm.status_code != 200:
            raise RuntimeError(f"GET /quality/matrix/ answered {warm.status_code}: {body[:300]}")
        rendered = len(re.findall(r'<div id="c-\d+-\d+" class="cell-inner"', body))
        if rendered != seeded["cells"]:
            raise RuntimeError(f"the grid shows {rendered} cells, expected {seeded['cells']}")
        times, queries, statements = [], [], []
        for _ in range(reps):
            counter.statements = []
            counter.active = True
            start = time.perf_counter()
            response = client.get("/quality/matrix/")
            elapsed = time.perf_counter() - start
            counter.active = False
            assert response.status_code == 200
            times.append(elapsed * 1000)
            queries.append(len(counter.statements))
            statements = counter.statements
    finally:
        counter.close()
    return {"processes": n_processes, "departments": n_departments, "cells": seeded["cells"],
            "bytes": len(body), "times": times, "queries": queries, "statements": statements}


# -- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL URL (database name must contain 'bench'), or 'sqlite' for a temporary file")
    parser.add_argument("--reps", type=int, default=7, help="measured renders per size (default 7)")
    parser.add_argument("--timeout", type=int, default=300, help="stop the whole run after this many seconds")
    parser.add_argument("--top", type=int, default=0, help="print the N most frequent statements of a render")
    args = parser.parse_args(argv)
    reps = max(1, min(args.reps, 50))

    tmp_dir = None
    url = args.url
    if url == "sqlite" or url.startswith("sqlite"):
        tmp_dir = tempfile.mkdtemp(prefix="matrix-bench-")
        url = f"sqlite:///{tmp_dir}/bench.db"
    is_pg = url.startswith("postgresql")

    def stop(signum, _frame):
        raise SystemExit(f"stopped by signal {signum} (timeout {args.timeout}s or interrupt)")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(max(10, min(args.timeout, 1800)))

    app = None
    results = []
    try:
        if is_pg:
            create_database(url)
        os.environ.setdefault("PORTAL_INSTANCE_DIR", tmp_dir or tempfile.gettempdir())
        from portal import create_app
        from portal.extensions import db

        app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL})
        with app.app_context():
            db.create_all()
            dialect = db.engine.dialect.name
        for n_processes, n_departments in SIZES:
            results.append(measure(app, n_processes, n_departments, reps))
    finally:
        signal.alarm(0)
        if app is not None:
            from portal.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if is_pg:
            drop_database(url)
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    import sqlalchemy as sa

    shown_url = sa.engine.make_url(url).render_as_string(hide_password=True)
    print(f"matrix grid benchmark — GET /quality/matrix/ as an administrator, {dialect} ({shown_url}), "
          f"{reps} renders per size after one warm-up")
    print(f"{'size':>10} {'cells':>7} {'queries/render':>15} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'KiB':>7}")
    for r in results:
        size = f"{r['processes']}×{r['departments']}"
        q = r["queries"]
        q_text = str(q[0]) if len(set(q)) == 1 else f"{min(q)}–{max(q)}"
        print(f"{size:>10} {r['cells']:>7} {q_text:>15} {statistics.median(r['times']):>10.1f} "
              f"{min(r['times']):>8.1f} {max(r['times']):>8.1f} {r['bytes'] / 1024:>7.0f}")
    small, large = results[0], results[-1]
    time_ratio = statistics.median(large["times"]) / statistics.median(small["times"])
    cell_ratio = large["cells"] / small["cells"]
    print(f"render time ratio {large['processes']}×{large['departments']} / {small['processes']}×{small['departments']}: "
          f"{time_ratio:.1f}×  (cells: {cell_ratio:.0f}×; per cell: "
          f"{statistics.median(large['times']) * 1000 / large['cells']:.1f} µs vs "
          f"{statistics.median(small['times']) * 1000 / small['cells']:.1f} µs)")
    verdict = "OK" if max(large["queries"]) <= QUERY_GOAL else "OVER GOAL"
    print(f"queries per render: {max(small['queries'])} at {small['cells']} cells, {max(large['queries'])} at "
          f"{large['cells']} cells (goal ≤ {QUERY_GOAL} for {large['processes']}×{large['departments']}): {verdict}")
    if args.top:
        for r in results:
            print(f"most frequent statements, {r['processes']}×{r['departments']}:")
            for statement, n in Counter(r["statements"]).most_common(args.top):
                print(f"  {n:>3} × {statement}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
