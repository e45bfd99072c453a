"""The ticket queue at size (issue 12): a department's first page and its 500th keyset page, 10,000 against
1,000,000 feedback items.

What it prints (figures and ratios, no verdict on time):

* for each database and each page, the whole request ``GET /queue/?…`` through the Flask test client, logged in
  through the login form as the department's head: SQL queries per request (goal ≤ 10 at any size) and the median
  / min / max time over --reps requests after one warm-up. Pages: the default view (open tickets, first page), every
  status first page, and every status 500th page. The 500th page's cursor is found by walking 499 pages through
  the service (``queue.list_queue``); where the department has fewer pages (10,000 items: ~40) the deepest page
  there is, the last one, stands in for it and the bench says so;
* the latency ratio 1,000,000 / 10,000 for each page (goal ≤ 1.5), all measured in this one run;
* ``EXPLAIN (ANALYZE, BUFFERS)`` of the list query and of the count badges' query as the 500th page's request ran
  them (the statements and parameters captured from that request) on the 1,000,000 database.

The data, alike at both sizes but for the volume (one database per size, seeded by COPY):
20 departments of very different sizes (the first has ~20 % of the items: ~200,000 at 1,000,000), each with a head,
10 members and 10 service points (200 in all); the feedback spread evenly over the last two years, ids in time
order; ratings 60 % 5, 22 % 4, 8 % 3, 5 % 2, 5 % 1 (差评 = 1–2, high priority, half of them with a call-back
required); a ticket per row, 3 % routed to another department; statuses by age: the last two days mostly new,
accepted or in progress, the last two weeks mixed, older ones 98.5 % closed, 1 % resolved, 0.5 % forgotten in
progress; 1 % spam, 2 % of the closed ones older than a year archived; assignees on everything but the newest.
Plain indexes are dropped before the COPY and rebuilt after it, foreign keys are not checked row by row
(``session_replication_role = replica``; the rows are consistent by construction), then VACUUM ANALYZE, as
autovacuum would leave a table that old.

How, bounded in time and cleaning up after itself:

1. Two throwaway PostgreSQL databases (bench/pgdb.py; names must contain "bench"; default
   postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_queue_10k and …_1m, or --url-small / --url-large).
2. Each phase runs in a child process of its own (``--phase seed|measure``): two applications in one process would
   share listeners; the parent stays a bare interpreter.
3. The databases are dropped at the end (also on Ctrl-C / SIGTERM); --timeout stops the whole run.

    .venv/bin/python bench/triage_queue_bench.py [--small 10000] [--large 1000000] [--reps 9] [--timeout 1500]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchapp import PASSWORD, app_for, login  # noqa: E402

DEFAULT_SMALL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_queue_10k"
DEFAULT_LARGE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_queue_1m"
DEPARTMENTS, MEMBERS, POINTS = 20, 10, 10  # members and service points per department
DEEP_PAGE = 500
QUERY_GOAL, RATIO_GOAL = 10, 1.5
ROW_RE = re.compile(r'name="ids" value="(\d+)"')
HEAD_ID = 1  # the head of department 1, the largest queue
CATEGORIES = ("服务态度", "办理效率", "等候时间", "业务能力", "环境设施", "收费", "其他")
COMMENTS = ("", "", "", "办理很快，谢谢", "排队时间太长了", "工作人员态度很好", "窗口太少，等了四十分钟",
            "叫号系统出错，重复叫号", "收费标准没有公示", "环境整洁", "希望增加自助设备")


def _uid(dept: int, member: int) -> int:
    """Department ``dept``'s member ``member`` (0: its head)."""
    return (dept - 1) * (MEMBERS + 1) + member + 1


# -- seed -----------------------------------------------------------------------------------------------
def _status_of(r: float, age_days: float) -> str:
    if age_days < 2:
        return "new" if r < 0.4 else "accepted" if r < 0.7 else "in_progress"
    if age_days < 14:
        return ("in_progress" if r < 0.15 else "awaiting_customer" if r < 0.25 else "resolved" if r < 0.6
                else "closed")
    if age_days < 60:
        return "in_progress" if r < 0.01 else "resolved" if r < 0.08 else "closed"
    return "in_progress" if r < 0.005 else "resolved" if r < 0.015 else "closed"


#: One line per feedback item, copied from Python into an unlogged table; the feedback and ticket rows (two dozen
#: columns each, mostly constants and moments derived from ``at``) are then made from it by PostgreSQL.
STAGING = ("id", "at", "dept", "to_dept", "point", "rating", "consent", "spam", "status", "assignee", "archived",
           "comment", "categories")
STAGING_DDL = ("CREATE UNLOGGED TABLE bench_seed (id integer PRIMARY KEY, at double precision, dept integer, "
               "to_dept integer, point integer, rating smallint, consent boolean, spam boolean, status text, "
               "assignee integer, archived boolean, comment text, categories text)")
FEEDBACK_SQL = """
INSERT INTO feedback (id, channel, kind, service_point_id, department_id, rating, categories, comment, contact_name,
    contact_phone, contact_email, contact_consent_at, contact_purpose, query_code_digest, query_code_sealed,
    idempotency_key, request_fingerprint, status, is_spam, spam_reasons, source_hash, reply, rated_at, created_at)
SELECT id, (ARRAY['kiosk', 'kiosk', 'kiosk', 'kiosk', 'kiosk', 'kiosk', 'tablet', 'tablet', 'device',
                  'hotline_12345'])[1 + id % 10], 'rating', point, dept, rating, categories::json, comment,
       CASE WHEN consent THEN '张先生' ELSE '' END, CASE WHEN consent THEN '13800138000' ELSE '' END, '',
       CASE WHEN consent THEN ts END, CASE WHEN consent THEN '回访' ELSE '' END, lpad(to_hex(id), 64, '0'), 'x',
       'bench-' || id, '', CASE WHEN status IN ('resolved', 'closed') THEN 'resolved' ELSE 'new' END, spam,
       CASE WHEN spam THEN 'repeat' ELSE '' END, lpad(to_hex(id % 5000), 32, '0'), '', ts, ts
FROM (SELECT *, to_timestamp(at) AS ts FROM bench_seed) AS s"""
TICKET_SQL = """
INSERT INTO ticket (id, feedback_id, department_id, service_point_id, assignee_id, status, priority, routed_by,
    negative, callback_required, is_spam, archived_at, received_at, accepted_at, first_response_at, resolved_at,
    closed_at, first_response_due_at, resolution_due_at, sla_warned, escalation, sla_next_check_at,
    rectification_note, created_at, updated_at)
SELECT id, id, to_dept, point, assignee, status, CASE WHEN rating <= 2 THEN 'high' ELSE 'normal' END,
       CASE WHEN to_dept = dept THEN 'point' ELSE 'rule' END, rating <= 2, consent, spam,
       CASE WHEN archived THEN ts + interval '400 days' END, ts,
       CASE WHEN status <> 'new' THEN ts + interval '2 hours' END, CASE WHEN status <> 'new' THEN ts + interval '2 hours' END,
       CASE WHEN status IN ('resolved', 'closed') THEN ts + interval '2 days' END,
       CASE WHEN status = 'closed' THEN ts + interval '3 days' END, ts + interval '4 hours', ts + interval '5 days',
       '[]', 0, CASE WHEN status IN ('new', 'accepted', 'in_progress') THEN ts + interval '2 days' END, '', ts,
       CASE WHEN status = 'closed' THEN ts + interval '3 days' ELSE ts END
FROM (SELECT *, to_timestamp(at) AS ts FROM bench_seed) AS s"""


def _staging_rows(items: int, now_epoch: float):
    """The feedback items, oldest first (ids in time order), spread evenly over the last two years."""
    rng = random.Random(12)
    r = rng.random
    # Departments of very different sizes: weight 1 / d^0.8 (the first ~20 %, the last ~2 %).
    weights = [1 / d ** 0.8 for d in range(1, DEPARTMENTS + 1)]
    total, acc, cumulative = sum(weights), 0.0, []
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    span = 730 * 86400
    start, step = now_epoch - span, span / items
    for i in range(1, items + 1):
        at = start + step * i + r() * step
        age = (now_epoch - at) / 86400
        x = r()
        dept = next((d for d, edge in enumerate(cumulative, 1) if x <= edge), DEPARTMENTS)
        point = (dept - 1) * POINTS + int(r() * POINTS) + 1
        x = r()
        rating = 5 if x < 0.60 else 4 if x < 0.82 else 3 if x < 0.90 else 2 if x < 0.95 else 1
        consent = "t" if rating <= 2 and r() < 0.5 else "f"
        spam = "t" if r() < 0.01 else "f"
        status = _status_of(r(), age)
        to_dept = dept if r() >= 0.03 else int(r() * DEPARTMENTS) + 1
        assignee = "\\N" if status == "new" else str(_uid(to_dept, int(r() * MEMBERS) + 1))
        archived = "t" if status == "closed" and age > 365 and r() < 0.02 else "f"
        if rating <= 3:
            comment, categories = COMMENTS[int(r() * len(COMMENTS))], f'["{CATEGORIES[int(r() * len(CATEGORIES))]}"]'
        else:
            comment, categories = (COMMENTS[3] if r() < 0.1 else ""), "[]"
        yield (f"{i}\t{at:.6f}\t{dept}\t{to_dept}\t{point}\t{rating}\t{consent}\t{spam}\t{status}\t{assignee}\t"
               f"{archived}\t{comment}\t{categories}")


def phase_seed(url: str, items: int) -> dict:
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from portal.core.roles import DEPT_HEAD, EMPLOYEE
    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.feedback.models import ServicePoint
    from portal.org.models import Department, User, UserRole

    app = app_for(url)
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        now = utcnow()
        password = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        people, roles = [], []
        for d in range(1, DEPARTMENTS + 1):
            for m in range(MEMBERS + 1):
                uid = _uid(d, m)
                people.append({"id": uid, "username": f"u{uid:04d}", "display_name": f"员工{uid:04d}",
                               "email": f"u{uid:04d}@example.cn", "department_id": d, "password_hash": password,
                               "must_change_password": False, "session_nonce": f"n{uid}", "active": True,
                               "created_at": now})
                roles.append({"user_id": uid, "role": DEPT_HEAD if m == 0 else EMPLOYEE})
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Department), [
                {"id": d, "code": f"B{d:02d}", "name": f"基准部门{d:02d}", "active": True, "sort_order": d,
                 "created_at": now} for d in range(1, DEPARTMENTS + 1)])
            conn.execute(sa.insert(User), people)
            conn.execute(sa.insert(UserRole), roles)
            for d in range(1, DEPARTMENTS + 1):
                conn.execute(sa.update(Department).where(Department.id == d).values(head_id=_uid(d, 0)))
            conn.execute(sa.insert(ServicePoint), [
                {"id": (d - 1) * POINTS + p, "code": f"P{d:02d}-{p:02d}", "name": f"{d:02d}号厅{p:02d}号窗口",
                 "location": "", "department_id": d, "opening_hours": "", "categories_text": "", "active": True,
                 "qr_secret": f"{d:02d}{p:02d}" * 8, "created_at": now, "updated_at": now}
                for d in range(1, DEPARTMENTS + 1) for p in range(1, POINTS + 1)])
            # Plain indexes are built after the rows are in (one sort each instead of a million inserts).
            plain = [(name, ddl) for name, ddl in conn.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename IN ('feedback', 'ticket') AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))"))]
            for name, _ddl in plain:
                conn.execute(sa.text(f'DROP INDEX "{name}"'))
            conn.execute(sa.text(STAGING_DDL))

        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY bench_seed ({', '.join(STAGING)}) FROM STDIN") as copy:
                    lines = []
                    for line in _staging_rows(items, now.timestamp()):
                        lines.append(line)
                        if len(lines) == 20_000:
                            copy.write("\n".join(lines) + "\n")
                            lines = []
                    if lines:
                        copy.write("\n".join(lines) + "\n")
            raw.commit()
            copied = time.perf_counter() - started
            with raw.cursor() as cursor:
                # The rows are consistent by construction: no foreign-key trigger per row.
                cursor.execute("SET session_replication_role = replica")
                cursor.execute(FEEDBACK_SQL)
                cursor.execute(TICKET_SQL)
                cursor.execute("SET session_replication_role = DEFAULT")
                cursor.execute("DROP TABLE bench_seed")
            raw.commit()
        finally:
            raw.close()
        inserted = time.perf_counter() - started
        with db.engine.begin() as conn:
            conn.execute(sa.text("SET maintenance_work_mem = '256MB'"))
            for _name, ddl in plain:
                conn.execute(sa.text(ddl))
            for table in ("department", "user", "service_point", "feedback", "ticket"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{table}\"))"))
        indexed = time.perf_counter() - started
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM (ANALYZE)"))
        with db.engine.connect() as conn:
            by_status = dict(conn.execute(sa.text("SELECT status, count(*) FROM ticket GROUP BY status")).all())
            dept_one = conn.execute(sa.text(
                "SELECT count(*) FROM ticket WHERE department_id = 1 AND NOT is_spam AND archived_at IS NULL")).scalar()
            negative = conn.execute(sa.text("SELECT count(*) FROM ticket WHERE negative")).scalar()
        db.session.remove()
        db.engine.dispose()
    return {"seconds": time.perf_counter() - started, "copy_seconds": copied, "insert_seconds": inserted - copied,
            "index_seconds": indexed - inserted, "vacuum_seconds": time.perf_counter() - started - indexed,
            "items": items, "by_status": by_status, "dept_one": dept_one, "negative": negative}


# -- measure ----------------------------------------------------------------------------------------------
PAGES = ("open_first", "all_first", "all_deep")


def _deep_cursor(app) -> tuple[str, int]:
    """The 500th page's cursor: 499 pages walked through the service, as the "Older" link would. A queue with
    fewer pages gives its deepest full page instead (the last one if full, else the one before it)."""
    from portal.extensions import db
    from portal.org.models import User
    from portal.triage import queue

    with app.app_context():
        head = db.session.get(User, HEAD_ID)
        cursors = [""]  # cursors[n - 1] opens page n
        while len(cursors) < DEEP_PAGE:
            page = queue.list_queue(head, queue.QueueFilters(department_id=1, status="all", cursor=cursors[-1]),
                                    with_counts=False)
            if not page.next_cursor:
                if len(page.items) < queue.PAGE_SIZE and len(cursors) > 1:
                    cursors.pop()
                break
            cursors.append(page.next_cursor)
        db.session.remove()
    return cursors[-1], len(cursors)


def phase_measure(urls: list[str], reps: int) -> dict:
    """Both databases in this one process, their requests interleaved (size by size within each round), so that
    the other load on a shared machine weighs on both alike; the ratio compares the medians."""
    import sqlalchemy as sa

    from portal.extensions import db

    statements: list[tuple[str, object]] = []
    active = [False]

    def before(conn, cursor, statement, parameters, context, executemany):
        if active[0]:
            statements.append((statement, parameters))

    sides = []
    for url in urls:
        app = app_for(url)
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", before)
        client = app.test_client()
        login(client, f"u{HEAD_ID:04d}")
        walk_started = time.perf_counter()
        cursor, page_no = _deep_cursor(app)
        query = {"open_first": {"department": 1}, "all_first": {"department": 1, "status": "all"},
                 "all_deep": {"department": 1, "status": "all", **({"after": cursor} if cursor else {})}}
        sides.append({"engine": engine, "client": client, "query": query, "deep_page": page_no,
                      "walk_seconds": time.perf_counter() - walk_started,
                      "pages": {key: {"times": [], "queries": []} for key in PAGES}})

    def get(side, key):
        response = side["client"].get("/queue/", query_string=side["query"][key])
        if response.status_code != 200:
            raise RuntimeError(f"GET /queue/ {side['query'][key]} answered {response.status_code}")
        return response

    for side in sides:  # warm-up
        for key in PAGES:
            get(side, key)
    for _ in range(reps):
        for key in PAGES:
            for side in sides:
                statements.clear()
                active[0] = True
                begun = time.perf_counter()
                response = get(side, key)
                elapsed = (time.perf_counter() - begun) * 1000
                active[0] = False
                page = side["pages"][key]
                page["times"].append(elapsed)
                page["queries"].append(len(statements))
                page["statements"] = list(statements)
                page["rows"] = len(ROW_RE.findall(response.get_data(as_text=True)))

    # EXPLAIN of the list and count queries as the last database's 500th page request ran them.
    last = sides[-1]
    captured = last["pages"]["all_deep"]["statements"]

    def plan(statement, parameters) -> list[str]:
        with last["engine"].connect() as conn:
            return [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]

    def first(statements, test):
        found = [(s, p) for s, p in statements if test(s)]
        return {"sql": " ".join(found[0][0].split()), "plan": plan(*found[0])} if found else None

    def is_list(statement):
        return "FROM ticket" in statement and "ORDER BY ticket.received_at" in statement

    explain = {"list": first(captured, is_list),
               "open_list": first(last["pages"]["open_first"]["statements"], is_list),
               "counts": first(captured, lambda s: "count(" in s.lower() and "FROM ticket" in s)}
    out = []
    for side in sides:
        sa.event.remove(side["engine"], "before_cursor_execute", before)
        for page in side["pages"].values():
            page["statements"] = [" ".join(s.split())[:110] for s, _p in page["statements"]]
        out.append({"deep_page": side["deep_page"], "walk_seconds": side["walk_seconds"], "pages": side["pages"]})
        side["engine"].dispose()
    out[-1]["explain"] = explain
    return {"sides": out}


# -- the parent -----------------------------------------------------------------------------------------
_child: subprocess.Popen | None = None


def run_phase(args: list[str]) -> dict:
    """Run ``--phase …`` in a child; its JSON result (the last line of its stdout)."""
    global _child
    _child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    output, _ = _child.communicate()
    code, _child = _child.returncode, None
    if code != 0:
        raise SystemExit(f"phase {args[1]} failed (exit {code})")
    return json.loads(output.strip().splitlines()[-1])


def _stop(signum, _frame):
    if _child is not None and _child.poll() is None:
        _child.kill()
    raise SystemExit(f"stopped by signal {signum} (timeout or interrupt)")


def _fmt_queries(q: list[int]) -> str:
    return str(q[0]) if len(set(q)) == 1 else f"{min(q)}–{max(q)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url-small", default=os.environ.get("BENCH_DATABASE_URL_SMALL", DEFAULT_SMALL_URL))
    parser.add_argument("--url-large", default=os.environ.get("BENCH_DATABASE_URL_LARGE", DEFAULT_LARGE_URL))
    parser.add_argument("--small", type=int, default=10_000, help="feedback items in the small database")
    parser.add_argument("--large", type=int, default=1_000_000, help="feedback items in the large database")
    parser.add_argument("--reps", type=int, default=9, help="measured requests per page (median of these)")
    parser.add_argument("--timeout", type=int, default=1500, help="stop the whole run after this many seconds")
    parser.add_argument("--phase", choices=["seed", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:  # a child: one phase, its result as the last line of stdout
        result = (phase_seed(args.url, args.items) if args.phase == "seed"
                  else phase_measure(args.url.split(","), max(1, min(args.reps, 50))))
        print(json.dumps(result, default=str))
        return 0

    from pgdb import create_database, drop_database

    sizes = [(max(1000, min(args.small, 100_000)), args.url_small),
             (max(10_000, min(args.large, 2_000_000)), args.url_large)]
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    signal.alarm(max(60, min(args.timeout, 3600)))
    try:
        for items, url in sizes:
            create_database(url)
            seeded = run_phase(["--phase", "seed", "--url", url, "--items", str(items)])
            print(f"seeded {items:,} feedback items and tickets in {seeded['seconds']:.1f} s (schema, users and COPY "
                  f"{seeded['copy_seconds']:.1f} s, INSERT … SELECT {seeded['insert_seconds']:.1f} s, indexes "
                  f"{seeded['index_seconds']:.1f} s, VACUUM ANALYZE {seeded['vacuum_seconds']:.1f} s); "
                  f"by status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(seeded["by_status"].items()))
                  + f"; 差评 {seeded['negative']:,}; department 1's queue {seeded['dept_one']:,}", flush=True)
        measured = run_phase(["--phase", "measure", "--url", ",".join(url for _items, url in sizes),
                              "--reps", str(args.reps)])
        results = {items: side for (items, _url), side in zip(sizes, measured["sides"], strict=True)}
    finally:
        signal.alarm(0)
        for _items, url in sizes:
            drop_database(url)

    (small, small_r), (large, large_r) = [(items, results[items]) for items, _url in sizes]
    labels = {"open_first": "open tickets (the default view), first page",
              "all_first": "every status, first page",
              "all_deep": f"every status, page {DEEP_PAGE} (keyset)"}
    print(f"\ntriage queue benchmark — PostgreSQL, GET /queue/?department=1 as its head (the whole request, "
          f"test client), median of {args.reps} after one warm-up, the two databases' requests interleaved")
    for items, r in ((small, small_r), (large, large_r)):
        print(f"  {items:,} items: the {DEEP_PAGE}th page's cursor walked through the service in "
              f"{r['walk_seconds']:.1f} s; deepest page reached: {r['deep_page']}")
    print(f"\n| page | queries {small:,} | queries {large:,} | ms {small:,} (min–max) | ms {large:,} (min–max) "
          f"| ratio of medians (goal ≤ {RATIO_GOAL}) | ratio of minimums |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst_queries = 0
    for key, label in labels.items():
        a, b = small_r["pages"][key], large_r["pages"][key]
        ma, mb = statistics.median(a["times"]), statistics.median(b["times"])
        if key == "all_deep" and small_r["deep_page"] < DEEP_PAGE:
            label += f" ({small:,}: page {small_r['deep_page']}, its deepest full page)"
        worst_queries = max(worst_queries, *a["queries"], *b["queries"])
        print(f"| {label} | {_fmt_queries(a['queries'])} | {_fmt_queries(b['queries'])} "
              f"| {ma:.1f} ({min(a['times']):.1f}–{max(a['times']):.1f}) "
              f"| {mb:.1f} ({min(b['times']):.1f}–{max(b['times']):.1f}) | **{mb / ma:.2f}** "
              f"| {min(b['times']) / min(a['times']):.2f} |")
    print(f"\nSQL queries per request at most {worst_queries} (goal ≤ {QUERY_GOAL}: "
          f"{'met' if worst_queries <= QUERY_GOAL else 'NOT met'}); rows shown: "
          + ", ".join(f"{k} {small_r['pages'][k]['rows']}/{large_r['pages'][k]['rows']}" for k in labels))
    print(f"statements of the {DEEP_PAGE}th page's request ({large:,}):")
    for statement in large_r["pages"]["all_deep"]["statements"]:
        print("  " + statement)
    for key, title in (("list", f"the list query, every status, page {large_r['deep_page']}"),
                       ("open_list", "the list query, open tickets (the default view), first page"),
                       ("counts", f"the count badges' query (page {large_r['deep_page']}'s request)")):
        part = (large_r.get("explain") or {}).get(key)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of {title}, {large:,} items:")
        if not part:
            print("  (not run by the request)")
            continue
        print("  " + part["sql"][:400] + (" …" if len(part["sql"]) > 400 else ""))
        print("\n".join("  " + line for line in part["plan"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
