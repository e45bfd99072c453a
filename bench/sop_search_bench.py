"""Full-text search of the document register (文件清单) at two sizes: SQL queries per search and latency.

What it does, bounded in time, cleaning up after itself:

1. For each database (SQLite in a temporary file; PostgreSQL at --pg-url / BENCH_DATABASE_URL, default
   postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_sop_search, when reachable or asked for; its
   name must contain "bench", since it is dropped and recreated) and each size (200, then 20,000 documents):
   a fresh database, schema from the models (``db.create_all()``: the FTS5 table on SQLite, the GIN index on
   PostgreSQL), then bulk inserts (Core executemany, no ORM object per row): 8 departments, 12 processes and
   a complete responsibility matrix, a quality manager and an employee, and the documents: each one
   ``sop_document`` row with an effective ``sop_version`` 1.0 (a Chinese body of a few hundred characters
   drawn from a varied vocabulary of bank-branch procedures; about 7 % are about complaints and contain
   投诉), its ``sop_search`` tokens (``portal.sop.search.tokens_for``, rjieba, as the services index) and,
   on SQLite, its FTS5 row. 10 % are restricted. PostgreSQL is then VACUUM ANALYZEd, as autovacuum would
   (statistics, and the GIN index's pending list flushed).
2. ``services.search_register(actor, DocumentFilters(q="投诉"))``, first page, as the quality manager and as
   the employee (whose visibility rules add conditions), touching what the list shows (department, process,
   effective and latest version); each call in a fresh session, after one warm-up, --reps times. SQL
   statements are counted with a ``before_cursor_execute`` listener on the engine. Then the htmx partial
   ``GET /quality/documents/?q=投诉`` through the Flask test client as the quality manager (logged in through
   the real login form), for the full request.
3. Per database: queries per search (goal ≤ 10), median latencies at 200 and 20,000, and the ratio
   20,000 / 200 (goal ≤ 2). ``--explain`` prints the database's plan of the count and the page queries at
   the larger size. Figures only: nothing is asserted about time.

Each database runs in a child process of its own (two applications in one process would share engines and
listeners); a child running longer than --timeout is killed.

    .venv/bin/python bench/sop_search_bench.py [--db auto|sqlite|postgresql|both] [--pg-url URL]
                                               [--sizes 200,20000] [--reps 25] [--q 投诉] [--explain]
                                               [--code DIR] [--timeout 600]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgdb import create_database, drop_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_sop_search"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SIZES = (200, 20_000)
QUERY_GOAL = 10
RATIO_GOAL = 2.0
PASSWORD = "Bench-passw0rd"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
ROW_RE = re.compile(r'<td translate="no"><a href="/quality/documents/\d+">')

# -- a vocabulary of bank-branch procedures ---------------------------------------------------------------
DEPARTMENTS = [("ZH", "综合办公室"), ("ZL", "质量管理部"), ("KF", "客服部"), ("YY", "运营部"), ("HG", "合规部"),
               ("KJ", "信息科技部"), ("CW", "财务会计部"), ("BW", "安全保卫部")]
PROCESSES = ["质量方针与目标管理", "成文信息控制", "客户投诉处理", "柜面业务办理", "内部审核", "管理评审",
             "账户开立与变更", "现金与尾箱管理", "重要空白凭证管理", "信息系统权限管理", "反洗钱客户识别",
             "网点安全保卫"]
ROLES = ["柜员", "大堂经理", "客户经理", "运营主管", "会计主管", "网点负责人", "合规专员", "信息科技岗",
         "档案管理员", "安全员", "综合柜员", "复核员", "授权人", "理财经理", "值班经理"]
TIMES = ["一个工作日", "两个工作日", "三个工作日", "五个工作日", "三十分钟", "两小时", "当日营业终了前",
         "每日营业开始前", "每周五", "每月末", "每季度末", "每年年初", "次月五日前", "十个自然日"]
OBJECTS = ["现金", "尾箱", "重要空白凭证", "业务印章", "客户身份资料", "开户资料", "业务档案", "系统权限",
           "操作密码", "密码器", "电子银行证书", "凭证交接登记簿", "监控录像", "库房钥匙", "账户信息",
           "大额交易记录", "可疑交易报告", "自助设备", "营业日志", "会计凭证", "授权记录", "消防器材"]
ACTIONS = ["登记", "核对", "交接", "复核", "审批", "保管", "销毁", "归档", "检查", "盘点", "清点", "封存",
           "备份", "更换", "申领", "查询", "调阅", "报送", "维护", "培训"]
FOLLOWS = ["留存记录备查", "报告网点负责人", "双人签字确认", "录入业务系统", "通知相关部门", "按月汇总报送",
           "纳入绩效考核", "及时更新台账", "在登记簿上签章", "按档案管理规定保存"]
TOPICS = {  # topic: (weight, title words, sentences of its own)
    "complaint": (7, ["客户投诉处理规范", "投诉受理与回访细则", "投诉工单管理办法"], [
        "受理客户投诉时，{role}应耐心倾听并如实登记投诉内容。",
        "客户投诉应在{time}内首次响应，重大投诉当日上报{role}。",
        "投诉办结后，{role}应在{time}内完成回访并记录客户满意度。",
        "涉及退款的投诉，经{role}审批后办理退款。"]),
    "counter": (20, ["柜面业务操作规程", "综合柜员操作细则", "柜面服务规范"], [
        "{role}办理业务前应核验客户有效身份证件。",
        "柜面业务实行前后台分离，{role}负责事后监督。",
        "{role}离柜时应退出系统并锁好{object}。"]),
    "cash": (15, ["现金与尾箱管理办法", "库房管理规定", "现金收付操作规程"], [
        "{role}应在{time}清点尾箱，账款核对相符后入库。",
        "现金出入库实行双人押运、双人交接。",
        "发现假币时，{role}应当面收缴并出具收缴凭证。"]),
    "voucher": (12, ["重要空白凭证管理办法", "印章管理规定", "凭证领用与核销细则"], [
        "重要空白凭证实行专人保管、分次领用、逐份登记。",
        "作废凭证应加盖作废章并由{role}{action}。",
        "业务印章停用时应及时封存并登记。"]),
    "account": (12, ["账户开立与变更管理办法", "单位账户管理细则", "个人账户服务规范"], [
        "开立账户应履行客户身份识别义务，留存身份证明文件复印件。",
        "账户信息变更须经{role}复核后方可生效。",
        "长期不动户应按规定转入久悬户管理。"]),
    "aml": (10, ["反洗钱工作规程", "客户身份识别操作指引", "大额和可疑交易报告细则"], [
        "对大额交易，{role}应在{time}内完成报告。",
        "发现可疑交易线索时，{role}应及时上报合规部门。",
        "客户身份资料和交易记录至少保存五年。"]),
    "it": (12, ["信息系统权限管理办法", "终端安全管理规定", "数据备份与恢复规程"], [
        "系统权限实行最小授权原则，{role}每季度检查一次。",
        "操作密码不得告知他人，{role}应定期更换密码。",
        "业务数据应每日备份，备份介质异地保存。"]),
    "security": (12, ["网点安全保卫制度", "营业场所消防管理规定", "监控录像管理办法"], [
        "营业期间{role}应保持监控设备正常运行。",
        "消防器材由{role}每月检查，确保完好有效。",
        "监控录像至少保存九十天，调阅须经审批。"]),
}
GENERIC = [
    "{role}应当在{time}内完成{object}的{action}，并{follow}。",
    "{object}的{action}由{role}负责，{follow}。",
    "每次{action}{object}后，{role}应{follow}。",
    "{role}发现{object}异常时，应立即停止{action}并{follow}。",
    "本细则所称{object}，是指网点日常经营中使用的{object}。",
]
SECTION_TITLES = ["目的", "适用范围", "职责", "工作程序", "检查与考核", "附则"]
TYPES = ["instruction"] * 5 + ["procedure"] * 2 + ["form", "record", "manual"]
TYPE_CODES = {"manual": "QM", "procedure": "QP", "instruction": "SOP", "form": "FM", "record": "QR"}


def _fill(rng: random.Random, template: str) -> str:
    return template.format(role=rng.choice(ROLES), time=rng.choice(TIMES), object=rng.choice(OBJECTS),
                           action=rng.choice(ACTIONS), follow=rng.choice(FOLLOWS))


def make_body(rng: random.Random, topic: str) -> str:
    """A Markdown body of a few hundred characters: sections of the topic's and generic sentences."""
    own = TOPICS[topic][2]
    parts = []
    for title in rng.sample(SECTION_TITLES, k=rng.randint(3, 5)):
        sentences = [_fill(rng, rng.choice(own if rng.random() < 0.5 else GENERIC)) for _ in range(rng.randint(1, 3))]
        parts.append(f"## {title}\n\n" + "".join(sentences))
    return "\n\n".join(parts) + "\n"


def body_text(body: str) -> str:
    """The plain text the services index (``content.markdown_text`` of these simple bodies)."""
    return "\n".join(line.lstrip("# ").strip() for line in body.splitlines() if line.strip())


# -- the child: one database ----------------------------------------------------------------------------------
def seed(n_docs: int, rng: random.Random, queries: list[str]) -> dict:
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from portal.core.roles import EMPLOYEE, QUALITY_MANAGER
    from portal.core.types import utcnow
    from portal.extensions import db
    from portal.org.models import Department, User, UserRole
    from portal.processes.models import Process
    from portal.raci.models import RaciAssignment
    from portal.sop import search
    from portal.sop.models import Document, DocumentSearch, DocumentVersion

    now, today = utcnow(), date.today()
    password = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    topics = list(TOPICS)
    weights = [TOPICS[t][0] for t in topics]
    started = time.perf_counter()
    docs, versions, tokens = [], [], []
    seq: dict[tuple[str, str], int] = {}
    wanted = {q: set(search.query_words(q)) for q in queries}
    with_word = dict.fromkeys(queries, 0)
    for i in range(1, n_docs + 1):
        topic = rng.choices(topics, weights)[0]
        dept = rng.randrange(len(DEPARTMENTS))
        doc_type = rng.choice(TYPES)
        key = (TYPE_CODES[doc_type], DEPARTMENTS[dept][0])
        seq[key] = seq.get(key, 0) + 1
        code = f"{key[0]}-{key[1]}-{seq[key]:04d}"
        title = rng.choice(TOPICS[topic][1]) + (f"（第{seq[key]}号）" if rng.random() < 0.5 else "")
        body = make_body(rng, topic)
        text = body_text(body)
        process = rng.randrange(len(PROCESSES)) + 1 if rng.random() < 0.8 else None
        effective_on = today - timedelta(days=rng.randrange(1, 700))
        docs.append({"id": i, "code": code, "title": title, "doc_type": doc_type, "process_id": process,
                     "department_id": dept + 1,
                     "confidentiality": "restricted" if rng.random() < 0.1 else "internal",
                     "review_period_months": 12, "tags": "", "issuer": "", "edition": "",
                     "current_version_id": None, "latest_version_id": None,
                     "next_review_on": effective_on + timedelta(days=365), "obsolete_at": None,
                     "obsolete_reason": "", "created_by_id": 1, "created_at": now, "updated_at": now,
                     "request_key": None})
        versions.append({"id": i, "document_id": i, "major": 1, "minor": 0, "status": "effective",
                         "change_summary": "首次发布", "body": body, "file_id": None, "text": text,
                         "content_sha256": "0" * 64, "author_id": 1, "created_at": now, "updated_at": now,
                         "submitted_at": now, "returned_comment": "", "returned_by_id": None, "approver_id": 1,
                         "approved_signature_id": None, "approved_at": now, "effective_on": effective_on,
                         "effective_at": now, "superseded_at": None, "retraining_required": True,
                         "retraining_reason": ""})
        t = search.tokens_for(code, title, "", "", text)
        present = set(t.split())
        for q, words in wanted.items():
            with_word[q] += bool(words) and words <= present
        tokens.append({"document_id": i, "tokens": t})
    prepared = time.perf_counter() - started

    with db.engine.begin() as conn:
        conn.execute(sa.insert(Department), [
            {"id": i + 1, "code": c, "name": n, "active": True, "sort_order": i, "created_at": now}
            for i, (c, n) in enumerate(DEPARTMENTS)])
        conn.execute(sa.insert(User), [
            {"id": 1, "username": "bench_qm", "display_name": "基准质量经理", "email": "qm@example.cn",
             "department_id": 2, "password_hash": password, "must_change_password": False,
             "session_nonce": "benchnonce1", "active": True, "created_at": now},
            {"id": 2, "username": "bench_emp", "display_name": "基准员工", "email": "emp@example.cn",
             "department_id": 3, "password_hash": password, "must_change_password": False,
             "session_nonce": "benchnonce2", "active": True, "created_at": now}])
        conn.execute(sa.insert(UserRole), [{"user_id": 1, "role": QUALITY_MANAGER}, {"user_id": 2, "role": EMPLOYEE}])
        conn.execute(sa.insert(Process), [
            {"id": p + 1, "code": f"T-{p + 1:02d}", "name": name, "description": "", "active": True,
             "sort_order": p, "created_at": now} for p, name in enumerate(PROCESSES)])
        conn.execute(sa.insert(RaciAssignment), [
            {"process_id": p + 1, "department_id": d + 1,
             "role": "A" if d == p % len(DEPARTMENTS) else "RCI"[(p + d) % 3] if (p + d) % 4 else None,
             "updated_at": now, "updated_by_id": None}
            for p in range(len(PROCESSES)) for d in range(len(DEPARTMENTS))
            if d == p % len(DEPARTMENTS) or (p + d) % 4])
        for chunk in range(0, n_docs, 2000):
            conn.execute(sa.insert(Document), docs[chunk:chunk + 2000])
        for chunk in range(0, n_docs, 2000):
            conn.execute(sa.insert(DocumentVersion), versions[chunk:chunk + 2000])
        conn.execute(sa.update(Document).values(current_version_id=Document.id, latest_version_id=Document.id))
        for chunk in range(0, n_docs, 2000):
            conn.execute(sa.insert(DocumentSearch), tokens[chunk:chunk + 2000])
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text(f"INSERT INTO {search.FTS_TABLE} (rowid, tokens) VALUES (:document_id, :tokens)"),
                         tokens)
        else:
            for table in ("department", "user", "process", "sop_document", "sop_version"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{table}\"))"))
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does to an insert-heavy table: statistics, and the GIN index's pending list flushed
        # into the index (after a bulk insert every entry sits in that list, which each search then scans and
        # which makes the planner price the index far too high).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return {"docs": n_docs, "with_word": with_word, "prepare_s": prepared,
            "insert_s": time.perf_counter() - started - prepared}


class QueryCounter:
    def __init__(self, engine):
        import sqlalchemy as sa

        self.engine, self.active, self.statements = engine, False, []
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            self.statements.append(" ".join(statement.split()))

    def close(self) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._before)


def login(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD},
                           headers={"X-CSRFToken": token})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login failed with {response.status_code}: {response.get_data(as_text=True)[:300]}")


def _search_once(app, counter, user_id: int, q: str) -> tuple[float, float, list[str], int]:
    """One search in a fresh session, as a request would run it: (ms, CPU ms of this process, statements,
    total). The CPU time includes SQLite's work (in process), not PostgreSQL's (another process)."""
    from portal.extensions import db
    from portal.org.models import User
    from portal.sop import services

    with app.app_context(), app.test_request_context("/quality/documents/"):
        actor = db.session.get(User, user_id)
        actor.roles  # noqa: B018 - loaded as flask-login's user loader would, before the view
        counter.statements, counter.active = [], True
        start, cpu = time.perf_counter(), time.process_time()
        page = services.search_register(actor, services.DocumentFilters(q=q))
        _shown = [(d.department.name, d.process, d.current_version and d.current_version.label,
                   d.latest_version and d.latest_version.status) for d in page.items]  # what the list renders
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        counter.active = False
        statements, total = counter.statements, page.total
        db.session.remove()
    return elapsed * 1000, cpu * 1000, statements, total


def measure(app, n_docs: int, queries: list[str], reps: int, want_explain: bool, seed_value: int) -> dict:
    from portal.extensions import db

    with app.app_context():
        seeded = seed(n_docs, random.Random(seed_value), queries)
        engine = db.engine
        dialect = engine.dialect.name
    counter = QueryCounter(engine)
    client = app.test_client()
    login(client, "bench_qm")
    out = {"size": n_docs, **seeded, "searches": {}, "dialect": dialect}
    try:
        for q in queries:
            found = out["searches"][q] = {"with_word": seeded["with_word"][q], "roles": {}}
            for role, user_id in (("quality manager", 1), ("employee", 2)):
                runs = [_search_once(app, counter, user_id, q) for _ in range(reps + 1)][1:]  # after a warm-up
                found["roles"][role] = {"times": [r[0] for r in runs], "cpu": [r[1] for r in runs],
                                        "queries": [len(r[2]) for r in runs], "statements": runs[-1][2],
                                        "total": runs[-1][3]}
            # the whole request: the htmx partial, as the quality manager
            times, body = [], ""
            for rep in range(reps + 1):
                start = time.perf_counter()
                response = client.get("/quality/documents/", query_string={"q": q}, headers={"HX-Request": "true"})
                elapsed = time.perf_counter() - start
                body = response.get_data(as_text=True)
                if response.status_code != 200:
                    raise RuntimeError(f"GET /quality/documents/ answered {response.status_code}: {body[:300]}")
                if rep:
                    times.append(elapsed * 1000)
            found["http"] = {"times": times, "rows": len(ROW_RE.findall(body))}
            if want_explain:
                found["explain"] = _explain_statements(app, q)
    finally:
        counter.close()
    return out


def _explain_statements(app, q: str) -> list[tuple[str, str]]:
    """The count and the page query of a search as the quality manager, compiled with their parameters."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.org.models import User
    from portal.sop import services

    captured: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    with app.app_context(), app.test_request_context("/quality/documents/"):
        actor = db.session.get(User, 1)
        actor.roles  # noqa: B018
        sa.event.listen(db.engine, "before_cursor_execute", grab)
        try:
            services.search_register(actor, services.DocumentFilters(q=q))
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", grab)
        dialect = db.engine.dialect.name
        plans = []
        raw = db.session.connection().connection.driver_connection
        for statement, parameters in captured[:2]:
            prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
            cursor = raw.cursor()
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            cursor.close()
            plan = "\n".join("    " + str(r[-1] if dialect == "sqlite" else r[0]) for r in rows)
            plans.append((" ".join(statement.split())[:300], plan))
        db.session.remove()
    return plans


def child(url: str, sizes: list[int], reps: int, queries: list[str], want_explain: bool, out_path: str,
          code: str | None) -> int:
    if code:
        sys.path.insert(0, code)
    os.environ.setdefault("PORTAL_INSTANCE_DIR", tempfile.mkdtemp(prefix="sop-search-bench-instance-"))
    from portal import create_app
    from portal.extensions import db

    is_pg = url.startswith("postgresql")
    results = []
    for n in sizes:
        tmp_dir = None
        size_url = url
        if is_pg:
            create_database(url)
        else:
            tmp_dir = tempfile.mkdtemp(prefix="sop-search-bench-")
            size_url = f"sqlite:///{tmp_dir}/bench.db"
        app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": size_url, "REDIS_URL": REDIS_URL})
        try:
            with app.app_context():
                db.create_all()
            results.append(measure(app, n, queries, reps, want_explain and n == max(sizes), seed_value=n))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if is_pg:
                drop_database(url)
            if tmp_dir:
                shutil.rmtree(tmp_dir, ignore_errors=True)
    Path(out_path).write_text(json.dumps(results, ensure_ascii=False))
    return 0


# -- the parent: one child per database, then the report -------------------------------------------------
def pg_reachable(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def report(label: str, results: list[dict], q: str) -> list[str]:
    """The table of one database and one query."""
    lines = [(f"{label}: search_register(DocumentFilters(q={q!r})), first page; wall-clock median, min and max of "
              f"the timed runs, and this process's CPU time (median)")]
    lines.append(f"  {'documents':>9} {'matching':>9} {'as':<16} {'found':>6} {'queries':>8} {'median ms':>10} "
                 f"{'min ms':>8} {'max ms':>8} {'CPU ms':>8}")
    for r in results:
        search = r["searches"][q]
        for role, m in search["roles"].items():
            qs = m["queries"]
            q_text = str(qs[0]) if len(set(qs)) == 1 else f"{min(qs)}–{max(qs)}"
            lines.append(f"  {r['size']:>9} {search['with_word']:>9} {role:<16} {m['total']:>6} {q_text:>8} "
                         f"{statistics.median(m['times']):>10.2f} {min(m['times']):>8.2f} {max(m['times']):>8.2f} "
                         f"{statistics.median(m['cpu']):>8.2f}")
        h = search["http"]["times"]
        lines.append(f"  {r['size']:>9} {search['with_word']:>9} {'GET htmx (QM)':<16} {search['http']['rows']:>6} "
                     f"{'':>8} {statistics.median(h):>10.2f} {min(h):>8.2f} {max(h):>8.2f}")
    small, large = results[0]["searches"][q], results[-1]["searches"][q]
    sizes = f"{results[-1]['size']:,} / {results[0]['size']:,}"
    for role in small["roles"]:
        big, little = large["roles"][role], small["roles"][role]
        ratio = statistics.median(big["times"]) / statistics.median(little["times"])
        best = min(big["times"]) / min(little["times"])
        worst = max(max(r["searches"][q]["roles"][role]["queries"]) for r in results)
        lines.append(f"  {role}: ratio {sizes} = {ratio:.2f} of the medians, {best:.2f} of the minima (goal ≤ "
                     f"{RATIO_GOAL}: {'met' if ratio <= RATIO_GOAL else 'NOT met'}); queries per search {worst} "
                     f"(goal ≤ {QUERY_GOAL}: {'met' if worst <= QUERY_GOAL else 'NOT met'})")
    http_ratio = statistics.median(large["http"]["times"]) / statistics.median(small["http"]["times"])
    lines.append(f"  GET htmx partial: ratio {sizes} = {http_ratio:.2f}")
    lines.append(f"  statements of one search (quality manager, {results[-1]['size']:,} documents):")
    lines.extend(f"    {i + 1}. {s[:200]}" for i, s in enumerate(large["roles"]["quality manager"]["statements"]))
    if large.get("explain"):
        lines.append(f"  plans at {results[-1]['size']:,} documents (quality manager):")
        for statement, plan in large["explain"]:
            lines.append(f"   {statement[:160]}…")
            lines.append(plan)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["auto", "sqlite", "postgresql", "both"], default="auto",
                        help="auto: SQLite, and PostgreSQL when reachable (default)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--reps", type=int, default=25, help="timed searches per size, role and query")
    parser.add_argument("--q", default="投诉", help="the query, or several separated by commas (投诉,处理)")
    parser.add_argument("--explain", action="store_true", help="print the plans of the count and page queries")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per database")
    parser.add_argument("--code", help="a checkout whose portal package is measured (default: this one), e.g. the "
                                       "code before a change: git archive <commit> | tar -x -C /tmp/before")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    reps = max(1, min(args.reps, 100))
    if args.child:
        return child(args.child, sizes, reps, [q for q in args.q.split(",") if q], args.explain, args.out, args.code)

    targets = []
    if args.db in ("auto", "sqlite", "both"):
        targets.append(("SQLite", "sqlite"))
    if args.db in ("postgresql", "both") or (args.db == "auto" and pg_reachable(args.pg_url)):
        targets.append(("PostgreSQL", args.pg_url))
    elif args.db == "auto":
        print(f"PostgreSQL not reachable at {args.pg_url}: SQLite only", flush=True)
    status = 0
    print(f"code: {Path(args.code).resolve() if args.code else ROOT}", flush=True)
    for label, url in targets:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        cmd = [sys.executable, __file__, "--child", url, "--out", out, "--sizes", ",".join(map(str, sizes)),
               "--reps", str(reps), "--q", args.q] + (["--explain"] if args.explain else []) \
            + (["--code", str(Path(args.code).resolve())] if args.code else [])
        load1, load5, _ = os.getloadavg()
        print(f"{label}: seeding {', '.join(f'{s:,}' for s in sizes)} documents and searching… (load average "
              f"{load1:.2f} / {load5:.2f} on {os.cpu_count()} CPUs: other busy processes skew the figures)", flush=True)
        try:
            subprocess.run(cmd, check=True, timeout=args.timeout, cwd=ROOT)
            results = json.loads(Path(out).read_text())
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"{label}: the run failed: {exc}", flush=True)
            status = 1
            continue
        finally:
            Path(out).unlink(missing_ok=True)
        for q in [q for q in args.q.split(",") if q]:
            print("\n".join(report(label, results, q)), flush=True)
            print(flush=True)
        large = results[-1]
        print(f"  seeding {large['size']:,} documents: tokens {large['prepare_s']:.1f} s, inserts "
              f"{large['insert_s']:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
