"""The training matrix at company size (issue 11): 2,000 employees × 200 documents ≈ 400,000 current assignments.

What it measures, and prints (figures and ratios, no verdict on time):

* GET /training/matrix for one department (100 people × 200 documents = 20,000 cells), through the Flask test
  client, logged in as that department's head through the login form: SQL queries per render (goal ≤ 10,
  whatever the size) and the median / min / max render time over --reps renders after one warm-up;
* GET /training/matrix/export.xlsx for the whole company, as an administrator: seconds to the last byte, the
  workbook's size, and the PEAK RSS of the process serving it (goal ≤ 300 MB): ``ru_maxrss`` of that child
  from ``os.wait4`` (what the kernel says the process peaked at), next to its own ``VmHWM`` and its RSS before
  the request (the application itself). The workbook is then opened with openpyxl to check its shape.

How, bounded in time and cleaning up after itself:

1. A throwaway PostgreSQL database (bench/pgdb.py; the name must contain "bench"; default
   postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_training, or --url / BENCH_DATABASE_URL).
2. Each phase runs in a child process of its own (``--phase seed|page|export``), so that the parent stays a
   bare interpreter and each child's peak RSS is its own:
   *seed*: schema from the models (``db.create_all()``), then Core inserts: 20 departments with a head and five
   positions each, an administrator, 2,000 employees, 200 effective instructions (one version each), and the
   assignments with PostgreSQL's COPY (executemany elsewhere): every employee × every document, ~60 % done,
   15 % pending, 10 % overdue, 5 % waived, 10 % not applicable; then ANALYZE.
   *page* and *export*: the test configuration against that database, a login through the form, the requests.
3. The database is dropped at the end (also on Ctrl-C / SIGTERM); --timeout stops the whole run.

    .venv/bin/python bench/training_bench.py [--url URL] [--employees 2000] [--documents 200] [--reps 5]
                                             [--timeout 900]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchapp import PASSWORD, app_for as _app, login as _login  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_training"
DEPARTMENTS = 20
POSITIONS = 5  # per department
QUERY_GOAL = 10
RSS_GOAL_MB = 300
ADMIN_ID = 1


# -- in a child: the application ------------------------------------------------------------------------
def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- seed -----------------------------------------------------------------------------------------------
def _status_of(i: int, d: int) -> str:
    h = (i * 7 + d * 13) % 20
    return "done" if h < 12 else "open" if h < 14 else "overdue" if h < 16 else "waived" if h < 17 else "not_applicable"


def phase_seed(url: str, employees: int, documents: int) -> dict:
    from datetime import timedelta

    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE
    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.org.models import Department, Position, User, UserRole
    from portal.sop.models import Document, DocumentVersion
    from portal.training.models import TrainingAssignment
    from portal.workcal.services import local_today

    app = _app(url)
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        now, today = utcnow(), local_today()
        password = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        per_dept = employees // DEPARTMENTS

        def user(uid, username, name, dept, position=None):
            return {"id": uid, "username": username, "display_name": name, "email": f"{username}@example.cn",
                    "department_id": dept, "position_id": position, "password_hash": password,
                    "must_change_password": False, "session_nonce": f"n{uid}", "active": True, "created_at": now}

        people = [user(ADMIN_ID, "bench_admin", "基准管理员", None)]
        roles = [{"user_id": ADMIN_ID, "role": ADMIN}]
        for i in range(employees):
            dept = i // per_dept + 1 if i // per_dept < DEPARTMENTS else DEPARTMENTS
            position = (dept - 1) * POSITIONS + i % POSITIONS + 1
            people.append(user(i + 2, f"emp{i:04d}", f"员工{i:04d}", dept, position))
            roles.append({"user_id": i + 2, "role": DEPT_HEAD if i % per_dept == 0 else EMPLOYEE})
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Department), [
                {"id": d, "code": f"B{d:02d}", "name": f"基准部门{d:02d}", "active": True, "sort_order": d,
                 "created_at": now} for d in range(1, DEPARTMENTS + 1)])
            conn.execute(sa.insert(Position), [
                {"id": (d - 1) * POSITIONS + p, "department_id": d, "name": f"岗位{p}", "active": True,
                 "created_at": now} for d in range(1, DEPARTMENTS + 1) for p in range(1, POSITIONS + 1)])
            conn.execute(sa.insert(User), people)
            conn.execute(sa.insert(UserRole), roles)
            for d in range(1, DEPARTMENTS + 1):  # the first employee of each department heads it
                conn.execute(sa.update(Department).where(Department.id == d)
                             .values(head_id=(d - 1) * per_dept + 2))
            conn.execute(sa.insert(Document), [
                {"id": k, "code": f"SOP-B{k % DEPARTMENTS + 1:02d}-{k:03d}", "title": f"基准作业指导书{k:03d}",
                 "doc_type": "instruction", "department_id": k % DEPARTMENTS + 1, "confidentiality": "internal",
                 "review_period_months": 12, "tags": "", "issuer": "", "edition": "", "obsolete_reason": "",
                 "created_by_id": ADMIN_ID, "created_at": now, "updated_at": now} for k in range(1, documents + 1)])
            conn.execute(sa.insert(DocumentVersion), [
                {"id": k, "document_id": k, "major": 1, "minor": 0, "status": "effective", "change_summary": "",
                 "body": "", "text": "", "content_sha256": "0" * 64, "author_id": ADMIN_ID, "created_at": now,
                 "updated_at": now, "effective_on": today, "effective_at": now, "retraining_required": True,
                 "retraining_reason": "", "returned_comment": ""} for k in range(1, documents + 1)])
            conn.execute(sa.text("UPDATE sop_document SET current_version_id = id, latest_version_id = id"))

        columns = ("user_id", "document_id", "version_id", "current", "status", "source", "assigned_at", "due_on",
                   "completed_at", "completed_by", "closed_reason", "escalation")

        def rows():
            for i in range(employees):
                for k in range(1, documents + 1):
                    state = _status_of(i, k)
                    status = "open" if state == "overdue" else state
                    due = today - timedelta(days=5) if state == "overdue" else today + timedelta(days=10)
                    done_at = now - timedelta(days=(i + k) % 300) if state == "done" else None
                    yield (i + 2, k, k, True, status, "effective", now, due, done_at,
                           "signoff" if state == "done" else None, "", 0)

        raw = db.engine.raw_connection()
        try:
            if db.engine.dialect.name == "postgresql":
                with raw.cursor() as cursor:
                    with cursor.copy(f"COPY training_assignment ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows():
                            copy.write_row(row)
            else:
                batch = []
                insert = sa.insert(TrainingAssignment)
                with db.engine.begin() as conn:
                    for row in rows():
                        batch.append(dict(zip(columns, row)))
                        if len(batch) == 10_000:
                            conn.execute(insert, batch)
                            batch = []
                    if batch:
                        conn.execute(insert, batch)
            raw.commit()
        finally:
            raw.close()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in ("department", "position", "user", "sop_document", "sop_version"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                         f"(SELECT max(id) FROM \"{table}\"))"))
                conn.execute(sa.text("ANALYZE"))
        assignments = db.session.scalar(sa.select(sa.func.count()).select_from(TrainingAssignment))
        db.session.remove()
        db.engine.dispose()
    return {"seconds": time.perf_counter() - started, "assignments": assignments, "employees": employees,
            "documents": documents, "dialect": url.split(":")[0]}


# -- the page -------------------------------------------------------------------------------------------
def phase_page(url: str, reps: int) -> dict:
    import sqlalchemy as sa

    from portal.extensions import db

    app = _app(url)
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    _login(client, "emp0000")  # the head of 基准部门01
    statements: list[str] = []
    active = [False]

    def before(conn, cursor, statement, parameters, context, executemany):
        if active[0]:
            statements.append(" ".join(statement.split())[:120])

    sa.event.listen(engine, "before_cursor_execute", before)
    warm = client.get("/training/matrix")
    body = warm.get_data(as_text=True)
    if warm.status_code != 200:
        raise RuntimeError(f"GET /training/matrix answered {warm.status_code}: {body[:300]}")
    times, cpu, queries = [], [], []
    for _ in range(reps):
        statements.clear()
        active[0] = True
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get("/training/matrix")
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        active[0] = False
        assert response.status_code == 200
        queries.append(len(statements))
    render_statements = list(statements)
    filtered = []
    for query in ({"status": "overdue"}, {"position": 1, "type": "instruction"}):
        statements.clear()
        active[0] = True
        start = time.perf_counter()
        client.get("/training/matrix", query_string=query, headers={"HX-Request": "true"})
        filtered.append((query, len(statements), (time.perf_counter() - start) * 1000))
        active[0] = False
    return {"times": times, "cpu": cpu, "queries": queries, "bytes": len(body), "statements": render_statements,
            "rows": body.count('<tr id="person-'), "cells": body.count('<td class='),
            "filtered": filtered}


# -- the export -----------------------------------------------------------------------------------------
def phase_export(url: str, out: str) -> dict:
    app = _app(url)
    client = app.test_client()
    _login(client, "bench_admin")
    rss_before = _status_mb("VmRSS")
    start, start_cpu = time.perf_counter(), time.process_time()
    response = client.get("/training/matrix/export.xlsx", buffered=False)
    if response.status_code != 200:
        raise RuntimeError(f"the export answered {response.status_code}")
    first = None
    size = 0
    with open(out, "wb") as f:
        for chunk in response.response:
            if first is None:
                first = time.perf_counter() - start
            size += len(chunk)
            f.write(chunk)
    response.close()
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - start_cpu, "first_byte": first, "bytes": size, "rss_before_mb": rss_before,
            "vm_hwm_mb": _status_mb("VmHWM"), "streamed": response.is_streamed}


# -- the parent -----------------------------------------------------------------------------------------
_child: subprocess.Popen | None = None


def run_phase(args: list[str], timeout: float) -> tuple[dict, float]:
    """Run ``--phase …`` in a child; its JSON result and its own peak RSS (MB, from wait4)."""
    global _child
    _child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    output = _child.stdout.read()
    _pid, status, usage = os.wait4(_child.pid, 0)
    _child.returncode = os.waitstatus_to_exitcode(status)
    code, _child = _child.returncode, None
    if code != 0:
        raise SystemExit(f"phase {args[1]} failed (exit {code})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def _stop(signum, _frame):
    if _child is not None and _child.poll() is None:
        _child.kill()
    raise SystemExit(f"stopped by signal {signum} (timeout or interrupt)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL URL (the database's name must contain 'bench')")
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5, help="measured renders of the page (default 5)")
    parser.add_argument("--timeout", type=int, default=900, help="stop the whole run after this many seconds")
    parser.add_argument("--phase", choices=["seed", "page", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    employees = max(DEPARTMENTS, min(args.employees, 20_000))
    documents = max(1, min(args.documents, 1000))

    if args.phase:  # a child: one phase, its result as the last line of stdout
        result = {"seed": lambda: phase_seed(args.url, employees, documents),
                  "page": lambda: phase_page(args.url, max(1, min(args.reps, 50))),
                  "export": lambda: phase_export(args.url, args.out)}[args.phase]()
        print(json.dumps(result, default=str))
        return 0

    from pgdb import create_database, drop_database

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    signal.alarm(max(30, min(args.timeout, 3600)))
    common = ["--url", args.url, "--employees", str(employees), "--documents", str(documents)]
    out = tempfile.NamedTemporaryFile(prefix="training-matrix-", suffix=".xlsx", delete=False).name
    try:
        create_database(args.url)
        seed, seed_rss = run_phase(["--phase", "seed", *common], args.timeout)
        print(f"seeded {seed['employees']:,} employees × {seed['documents']} documents = {seed['assignments']:,} "
              f"current assignments in {seed['seconds']:.1f} s (COPY; child peak RSS {seed_rss:.0f} MB)", flush=True)
        page, page_rss = run_phase(["--phase", "page", *common, "--reps", str(args.reps)], args.timeout)
        export, export_rss = run_phase(["--phase", "export", *common, "--out", out], args.timeout)
        signal.alarm(0)
        from openpyxl import load_workbook

        book = load_workbook(out, read_only=True)
        sheet = book.worksheets[0]
        n_rows, n_cols = 0, 0
        for row in sheet.iter_rows(values_only=True):
            n_rows += 1
            n_cols = max(n_cols, len(row))
        book.close()
    finally:
        signal.alarm(0)
        drop_database(args.url)
        if os.path.exists(out):
            os.unlink(out)

    q = page["queries"]
    q_text = str(q[0]) if len(set(q)) == 1 else f"{min(q)}–{max(q)}"
    print(f"\ntraining matrix benchmark — PostgreSQL, {employees:,} employees × {documents} documents, "
          f"{DEPARTMENTS} departments")
    print(f"GET /training/matrix as a head ({page['rows']} people × {documents} documents = {page['cells']:,} cells), "
          f"{len(page['times'])} renders after one warm-up:")
    print(f"  queries per render: {q_text} (goal ≤ {QUERY_GOAL})")
    print(f"  render ms: median {statistics.median(page['times']):.0f}, min {min(page['times']):.0f}, "
          f"max {max(page['times']):.0f} (CPU of the serving process: median {statistics.median(page['cpu']):.0f}); page {page['bytes'] / 1024:,.0f} KiB; per cell "
          f"{statistics.median(page['times']) * 1000 / max(1, page['cells']):.1f} µs; child peak RSS {page_rss:.0f} MB")
    for query, n, ms in page["filtered"]:
        print(f"  filtered {query}: {n} queries, {ms:.0f} ms")
    print("  statements of a render: " + " | ".join(s[:60] for s in page["statements"]))
    print("GET /training/matrix/export.xlsx as an administrator (the whole company):")
    print(f"  {export['seconds']:.1f} s to the last byte ({export['cpu']:.1f} s CPU in the serving process; "
          f"PostgreSQL's share runs elsewhere), first byte after {export['first_byte']:.1f} s, "
          f"{export['bytes'] / 1024 / 1024:.1f} MB workbook, streamed: {export['streamed']}, "
          f"{n_rows:,} rows × {n_cols} columns")
    print(f"  peak RSS of the serving process: {export_rss:.0f} MB (ru_maxrss via wait4; VmHWM {export['vm_hwm_mb']:.0f} "
          f"MB; {export['rss_before_mb']:.0f} MB before the request, so the export added "
          f"{export['vm_hwm_mb'] - export['rss_before_mb']:.0f} MB) — goal ≤ {RSS_GOAL_MB} MB")
    print(f"  ratio peak RSS / goal: {export_rss / RSS_GOAL_MB:.2f}; queries / goal: {max(q) / QUERY_GOAL:.1f}; "
          f"export µs per cell: {export['seconds'] * 1e6 / (employees * documents):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
