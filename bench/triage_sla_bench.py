"""The SLA scan at size (issue 12): its cost follows the tickets that are due, not all the open ones.

What it prints (figures, no verdict on time):

* ``EXPLAIN (ANALYZE, BUFFERS)`` of the scan's query (``portal.triage.sla.due_query``): an index scan of the
  partial index ``ix_ticket_sla_next_check`` (open, running tickets), reading only the due rows — asserted: the
  run fails when the plan does not name the index (nothing is asserted about time);
* the time of a full scan (``sla.scan``: claims, notifications, audit events) over the due tickets, and of a
  second scan right after it (nothing left due: one index probe), with the number of SQL statements each ran,
  the statements per firing ticket, and the first scan's statements by kind (the first words of each, e.g.
  ``UPDATE ticket``, ``INSERT INTO notification``) — to show which ones grow with the tickets.

How, bounded in time and cleaning up after itself:

1. A throwaway PostgreSQL database (bench/pgdb.py; the name must contain "bench"; default
   postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_triage_sla, or --url / BENCH_DATABASE_URL).
2. Schema from the models (``db.create_all()``); 20 departments with a head and 10 members, a quality manager;
   --tickets feedback rows and their tickets by COPY: --due of them running with their next moment passed
   (high priority, received three working days ago, assigned), the others running with their next moment in the
   coming weeks, plus 10 % awaiting the customer and 20 % resolved whose stale next moment has passed (the
   partial index leaves them out); then ANALYZE.
3. The database is dropped at the end (also on Ctrl-C / SIGTERM); --timeout stops the whole run.

    .venv/bin/python bench/triage_sla_bench.py [--url URL] [--tickets 200000] [--due 300] [--timeout 900]
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchapp import app_for as _app  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_triage_sla"
DEPARTMENTS, MEMBERS = 20, 10


def _copy(table: str, columns: tuple[str, ...], rows) -> None:
    from portal.extensions import db

    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def seed(tickets: int, due: int) -> dict:
    import json

    import sqlalchemy as sa

    from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.org.models import Department, User, UserRole

    started = time.perf_counter()
    db.create_all()
    now = utcnow()
    people, roles = [], []
    for d in range(1, DEPARTMENTS + 1):
        for m in range(MEMBERS + 1):
            uid = (d - 1) * (MEMBERS + 1) + m + 1
            people.append({"id": uid, "username": f"u{uid:04d}", "display_name": f"员工{uid:04d}",
                           "email": f"u{uid:04d}@bench.invalid",
                           "department_id": d, "password_hash": "x", "must_change_password": False,
                           "session_nonce": f"n{uid}", "active": True, "created_at": now})
            roles.append({"user_id": uid, "role": DEPT_HEAD if m == 0 else EMPLOYEE})
    qm_id = len(people) + 1
    people.append({"id": qm_id, "username": "qm", "display_name": "质量经理", "email": "", "department_id": 1,
                   "password_hash": "x", "must_change_password": False, "session_nonce": "nqm", "active": True,
                   "created_at": now})
    roles.append({"user_id": qm_id, "role": QUALITY_MANAGER})
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Department), [
            {"id": d, "code": f"B{d:02d}", "name": f"基准部门{d:02d}", "active": True, "sort_order": d,
             "created_at": now} for d in range(1, DEPARTMENTS + 1)])
        conn.execute(sa.insert(User), people)
        conn.execute(sa.insert(UserRole), roles)
        for d in range(1, DEPARTMENTS + 1):
            conn.execute(sa.update(Department).where(Department.id == d).values(head_id=(d - 1) * (MEMBERS + 1) + 1))

    def department(i: int) -> int:
        return i % DEPARTMENTS + 1

    _copy("feedback", ("id", "channel", "kind", "department_id", "categories", "comment", "contact_name",
                       "contact_phone", "contact_email", "contact_purpose", "query_code_digest", "query_code_sealed",
                       "idempotency_key", "request_fingerprint", "status", "is_spam", "spam_reasons", "source_hash",
                       "reply", "rated_at", "created_at", "rating"),
          ((i, "kiosk", "rating", department(i), "[]", "", "", "", "", "", f"{i:064x}", "x", f"bench-{i}", "", "new",
            False, "", "", "", now, now, 3) for i in range(1, tickets + 1)))

    def ticket(i: int):
        dept = department(i)
        assignee = (dept - 1) * (MEMBERS + 1) + 1 + (i % MEMBERS) + 1
        if i <= due:  # running, its next moment passed a minute ago
            status, received, next_check, priority = "in_progress", now - timedelta(days=3), now - timedelta(
                minutes=1 + i % 60), "high"
        elif i % 10 == 0:  # awaiting the customer: stale moment in the past, outside the index
            status, received, next_check, priority = "awaiting_customer", now - timedelta(days=5), now - timedelta(
                hours=1), "normal"
        elif i % 5 == 0:  # resolved: outside the index
            status, received, next_check, priority = "resolved", now - timedelta(days=5), now - timedelta(
                hours=1), "normal"
        else:  # running, next moment in the coming weeks
            status, received, next_check, priority = "accepted", now, now + timedelta(minutes=10 + i % 40_000), \
                "normal"
        return (i, i, dept, assignee, status, priority, "point", False, False, False, received, received,
                received + timedelta(days=3), next_check, json.dumps([]), 0, "", now, now)

    _copy("ticket", ("id", "feedback_id", "department_id", "assignee_id", "status", "priority", "routed_by",
                     "negative", "callback_required", "is_spam", "received_at", "first_response_at",
                     "resolution_due_at", "sla_next_check_at", "sla_warned", "escalation", "rectification_note",
                     "created_at", "updated_at"), (ticket(i) for i in range(1, tickets + 1)))
    with db.engine.begin() as conn:
        for table in ("department", "user", "feedback", "ticket"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                 f"(SELECT max(id) FROM \"{table}\"))"))
        conn.execute(sa.text("ANALYZE"))
    return {"seconds": time.perf_counter() - started}


def measure() -> dict:
    import sqlalchemy as sa

    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.triage import sla
    from portal.triage.models import Ticket

    now = utcnow()
    query = sla.due_query(now)
    compiled = query.compile(dialect=db.engine.dialect)
    with db.engine.connect() as conn:
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled),
                                                       compiled.params)]
        counts = dict(conn.execute(sa.select(Ticket.status, sa.func.count()).group_by(Ticket.status)).all())
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    runs, kinds = [], []
    for _ in range(2):
        statements.clear()
        started = time.perf_counter()
        result = sla.scan(now)
        db.session.commit()
        runs.append((time.perf_counter() - started, len(statements), result))
        kinds.append(_kinds(statements))
    sa.event.remove(db.engine, "before_cursor_execute", count)
    return {"plan": plan, "counts": counts, "runs": runs, "kinds": kinds[0]}


def _kinds(statements: list[str]) -> dict[str, int]:
    """How many statements of each kind: the verb and its table (``UPDATE ticket``, ``SELECT … FROM "user"``)."""
    import re
    from collections import Counter

    out: Counter = Counter()
    for statement in statements:
        words = statement.split()
        verb = words[0].upper() if words else ""
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\S+)", statement, re.IGNORECASE)
        name = table.group(1).strip('"') if table else ""
        out[f"{verb} {name}".strip()] += 1
    return dict(out.most_common())


def _stop(signum, _frame):
    raise SystemExit(f"stopped by signal {signum} (timeout or interrupt)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL URL (the database's name must contain 'bench')")
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=300)
    parser.add_argument("--timeout", type=int, default=900, help="stop the whole run after this many seconds")
    args = parser.parse_args(argv)
    tickets = max(1000, min(args.tickets, 2_000_000))
    due = max(1, min(args.due, tickets // 10))

    from pgdb import create_database, drop_database

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    signal.alarm(max(30, min(args.timeout, 3600)))
    try:
        create_database(args.url)
        app = _app(args.url)
        with app.app_context():
            from portal.extensions import db

            seeded = seed(tickets, due)
            print(f"seeded {tickets:,} tickets ({due} due) in {seeded['seconds']:.1f} s (COPY)", flush=True)
            out = measure()
            db.session.remove()
            db.engine.dispose()
    finally:
        signal.alarm(0)
        drop_database(args.url)

    print("tickets by status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(out["counts"].items())))
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the scan's query (portal.triage.sla.due_query):")
    print("\n".join("  " + line for line in out["plan"]))
    uses_index = any("ix_ticket_sla_next_check" in line for line in out["plan"])
    print(f"\nindex scan on ix_ticket_sla_next_check: {'yes' if uses_index else 'NO'}")
    for label, (seconds, n_statements, result) in zip(("first scan", "second scan"), out["runs"], strict=True):
        per = f", {n_statements / result['fired']:.2f} per firing ticket" if result["fired"] else ""
        print(f"{label}: {seconds * 1000:.0f} ms, {n_statements} SQL statements{per}, {result['due']} tickets read, "
              f"{result['fired']} fired ({result['steps']} steps)")
    print("first scan's statements by kind: " + ", ".join(f"{k} {n}" for k, n in out["kinds"].items()))
    # The plan is asserted (not the time): the scan must read the partial index, never the whole table.
    assert uses_index, "the SLA scan's query does not use ix_ticket_sla_next_check"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
