"""The portal as the benchmarks run it: the test configuration against a bench database, and a login through the
real login form (the CSRF token read from the page)."""
from __future__ import annotations

import os
import re
import tempfile

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
#: Every bench user's password (hashed with pbkdf2:sha256:1000, as the test configuration does, to seed quickly).
PASSWORD = "Bench-passw0rd"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


def app_for(url: str):
    os.environ.setdefault("PORTAL_INSTANCE_DIR", tempfile.gettempdir())
    from portal import create_app

    return create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL})


def login(client, username: str, password: str = PASSWORD) -> None:
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": password}, headers={"X-CSRFToken": token})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login as {username} failed with {response.status_code}")
