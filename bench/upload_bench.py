"""Spreadsheet uploads (issue 8, item 3): seconds and peak RSS of each import, each in a child process.

Cases (each run in a fresh child process, which reports its own ``ru_maxrss``):

* ``roster-xfd``: the reported 103 KB workbook (a header row, then 20,000 rows each with one cell at column
  XFD) posted to /admin/org/roster; expected: refused (422) at once.
* ``matrix-xfd``: the same shape in the sheet 质量职能分配表, posted to /quality/matrix/import.
* ``zip-bomb``: a workbook whose sheet unpacks to 200 MB of blanks, posted to /admin/org/roster.
* ``strings-bomb``: a 48 KB workbook whose shared-string table holds 1.15 million strings (19.5 MB unpacked).
* ``roster-5000``: a legitimate roster of 5,000 new users: preview (upload), then apply.
* ``roster-20000``: the largest roster accepted (20,000 rows × 7 columns): preview only.
* ``reader-during-apply``: while the 5,000-row roster is applied (a long write transaction), a second browser
  of the same administrator loads GET /notifications over and over: its slowest page and statuses, then one
  write (POST /notifications/read-all), which waits for the lock up to the busy timeout.

Each child builds the application on a temporary SQLite file (config "test": cheap password hashing, so that
applying 5,000 users measures the import rather than scrypt), logs in through the login form and posts the
file with Flask's test client. It prints the RSS before the upload, the peak RSS (``ru_maxrss``, which also
covers start-up), the time of each request and its status.

``--code DIR`` runs the children against another checkout's ``portal`` package (for example the code before
the fix: ``git worktree add /tmp/before <commit>``), to compare. ``--timeout`` stops a child that runs away.

    .venv/bin/python bench/upload_bench.py [--cases roster-xfd,matrix-xfd,...] [--code DIR] [--timeout 300]
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("roster-xfd", "matrix-xfd", "zip-bomb", "strings-bomb", "roster-5000", "roster-20000", "reader-during-apply")
PASSWORD = "Bench-passw0rd"
ROSTER_HEADER = ["用户名", "姓名", "邮箱", "部门", "岗位", "角色", "状态"]


def _xlsx_files():
    spec = importlib.util.spec_from_file_location("bench_xlsx_files", ROOT / "tests" / "xlsx_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# -- child ---------------------------------------------------------------------------------------------
def child(case: str) -> dict:
    files = _xlsx_files()
    content = _build(case, files)
    from portal import create_app
    from portal.core.roles import ADMIN
    from portal.extensions import db
    from portal.org.accounts import set_password
    from portal.org.models import Department, User

    tmp = tempfile.mkdtemp(prefix="upload-bench-")
    os.environ["PORTAL_INSTANCE_DIR"] = tmp
    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                                        "WTF_CSRF_ENABLED": False, "REDIS_URL": None,
                                        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024})
    with app.app_context():
        db.create_all()
        dept = Department(code="RD", name="研发部")
        db.session.add(dept)
        db.session.flush()
        admin = User(username="bench-admin", display_name="管理员", email="admin@example.cn", department=dept)
        admin.set_roles({ADMIN})
        db.session.add(admin)
        set_password(admin, PASSWORD, must_change=False)
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    login = client.post("/login", data={"username": "bench-admin", "password": PASSWORD})
    assert login.status_code in (302, 303), login.status_code
    url = "/quality/matrix/import" if case == "matrix-xfd" else "/admin/org/roster"
    assert client.get(url).status_code == 200  # warm up: templates compiled, catalogs loaded
    before = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post(url, data={"file": (io.BytesIO(content), "upload.xlsx")},
                           content_type="multipart/form-data")
    upload_s, upload_cpu = time.perf_counter() - started, time.process_time() - cpu
    body = response.get_data(as_text=True)
    result = {"case": case, "bytes": len(content), "rss_before_mb": round(before, 1),
              "upload_s": round(upload_s, 3), "upload_cpu_s": round(upload_cpu, 3), "upload_status": response.status_code}
    message = re.search(r'<div class="invalid-feedback d-block">\s*(.*?)\s*</div>|<div>([^<]*too large[^<]*)</div>', body)
    if response.status_code != 200 and message:
        result["message"] = (message.group(1) or message.group(2)).strip()
    if case == "reader-during-apply":
        result.update(_reader_during_apply(app, client, body))
    if case == "roster-5000":
        match = re.search(r'action="/admin/org/roster/(\d+)/apply"', body)
        started, cpu = time.perf_counter(), time.process_time()
        applied = client.post(f"/admin/org/roster/{match.group(1)}/apply")
        result["apply_s"] = round(time.perf_counter() - started, 3)
        result["apply_cpu_s"] = round(time.process_time() - cpu, 3)
        result["apply_status"] = applied.status_code
        with app.app_context():
            result["users_after"] = db.session.query(User).count()
    result["peak_rss_mb"] = round(_peak_mb(), 1)
    return result


def _reader_during_apply(app, client, body: str) -> dict:
    import threading

    other = app.test_client()
    assert other.post("/login", data={"username": "bench-admin", "password": PASSWORD}).status_code in (302, 303)
    assert other.get("/notifications").status_code == 200
    match = re.search(r'action="/admin/org/roster/(\d+)/apply"', body)
    outcome = {}

    def apply():
        started = time.perf_counter()
        outcome["status"] = client.post(f"/admin/org/roster/{match.group(1)}/apply").status_code
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=apply)
    thread.start()
    time.sleep(1.0)  # the apply is writing by now
    latencies, statuses = [], {}
    while thread.is_alive() and len(latencies) < 40:
        started = time.perf_counter()
        status = other.get("/notifications").status_code
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
        time.sleep(0.2)
    write_status = write_s = None
    if thread.is_alive():
        started = time.perf_counter()
        write_status = other.post("/notifications/read-all").status_code
        write_s = time.perf_counter() - started
    thread.join()
    return {"apply_s": round(outcome["seconds"], 3), "apply_status": outcome["status"],
            "reader": f"{len(latencies)} GETs during the apply, statuses {statuses}, slowest "
                      f"{max(latencies):.3f} s" if latencies else "apply finished before any GET",
            "writer": f"a write during the apply: {write_status} after {write_s:.2f} s" if write_status else ""}


def _build(case: str, files) -> bytes:
    if case == "roster-xfd":
        return files.xfd_workbook(ROSTER_HEADER)
    if case == "matrix-xfd":
        return files.xfd_workbook(["过程编码", "过程名称", "标准条款"], sheet="质量职能分配表")
    if case == "zip-bomb":
        return files.zip_bomb(200)
    if case == "strings-bomb":
        return files.shared_strings_bomb()
    rows = {"roster-5000": 5000, "reader-during-apply": 5000, "roster-20000": 20000}[case]
    return files.workbook([ROSTER_HEADER] + [
        [f"bench{i:05d}", f"员工{i:05d}", f"bench{i:05d}@example.cn", "研发部", f"岗位{i % 40}", "员工", "在职"]
        for i in range(rows)], sheet="花名册")


# -- parent --------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--code", help="a checkout whose portal package the children import (default: this one)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child), ensure_ascii=False))
        return 0
    code = Path(args.code).resolve() if args.code else ROOT
    env = {**os.environ, "PYTHONPATH": str(code)}
    print(f"code: {code}")
    print("seconds: wall clock (CPU time of the process in brackets: other load on the machine inflates the first)")
    print(f"{'case':14} {'bytes':>9} {'status':>7} {'upload s':>15} {'apply s':>15} {'RSS before':>11} {'peak RSS':>9}")
    for case in args.cases.split(","):
        try:
            done = subprocess.run([sys.executable, __file__, "--child", case], env=env, cwd=str(code),
                                  capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{case:14} stopped after {args.timeout:.0f} s")
            continue
        if done.returncode != 0:
            print(f"{case:14} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        apply_s = f"{r['apply_s']:.2f}" + (f" ({r['apply_cpu_s']:.2f})" if "apply_cpu_s" in r else "") \
            if "apply_s" in r else "-"
        upload_s = f"{r['upload_s']:.2f} ({r['upload_cpu_s']:.2f})"
        print(f"{case:14} {r['bytes']:>9} {r['upload_status']:>7} {upload_s:>15} {apply_s:>15} "
              f"{r['rss_before_mb']:>8.1f} MB {r['peak_rss_mb']:>6.1f} MB"
              + (f"   {r['message']}" if r.get("message") else "")
              + (f"   users after apply: {r['users_after']}" if "users_after" in r else "")
              + (f"\n{'':14} {r['reader']}" if r.get("reader") else "")
              + (f"\n{'':14} {r['writer']}" if r.get("writer") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
