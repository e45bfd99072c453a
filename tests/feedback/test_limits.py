"""Rate limits of the public pages, on the real portal (gunicorn) with its limits in a real Redis: the kiosk
form per client address and per service point, wrong 查询码 per address, and what happens to the limits
while Redis is down (each process counts in its own memory; nothing is refused for the outage itself)."""
from __future__ import annotations

import re
import subprocess
import textwrap

import pytest
import requests

from tests.faults import PrivateRedis
from tests.livesrv import BIN, ROOT, LiveServer

pytestmark = [pytest.mark.slow]

TOKEN_RE = re.compile(r'name="form_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="form_token"')
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

SEED = textwrap.dedent("""
    from portal import create_app
    from portal.extensions import db
    from portal.feedback import codes
    from portal.feedback.models import ServicePoint
    from portal.org.models import Department
    app = create_app()
    with app.app_context():
        dept = Department(code="LIM", name="限流测试部")
        db.session.add(dept)
        db.session.flush()
        for code in ("LIM1", "LIM2"):
            point = ServicePoint(code=code, name=code + "窗口", department_id=dept.id, qr_secret=codes.new_point_secret())
            db.session.add(point)
            db.session.flush()
            print(f"/k/{code}/{codes.kiosk_signature(point.qr_secret, code)}")
        db.session.commit()
""")


def _start(tmp_path, **env) -> tuple[LiveServer, list[str]]:
    server = LiveServer(tmp_path, "limits")
    server.env.update(env)
    server.start(seed=False)
    out = subprocess.run([str(BIN / "python"), "-c", SEED], cwd=ROOT, env=server.env, capture_output=True, text=True,
                         check=True, timeout=120)
    return server, out.stdout.split()


def _rate(server: LiveServer, path: str, n: int, forwarded_for: str | None = None) -> requests.Response:
    session = requests.Session()
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = session.get(server.url + path, headers=headers, timeout=30)
    if page.status_code != 200:
        return page
    token = next(g for g in TOKEN_RE.search(page.text).groups() if g)
    csrf = CSRF_RE.search(page.text).group(1)
    return session.post(server.url + path, data={"form_token": token, "csrf_token": csrf, "rating": "4",
                                                 "comment": f"第{n}条"}, headers=headers, timeout=30)


def _count_rows(server: LiveServer) -> int:
    code = "from portal import create_app\nfrom portal.extensions import db\nfrom portal.feedback.models import Feedback\n" \
           "app = create_app()\nwith app.app_context(): print(db.session.query(Feedback).count())"
    out = subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env=server.env, capture_output=True, text=True,
                         check=True, timeout=120)
    return int(out.stdout.strip())


@pytest.fixture
def own_redis(tmp_path):
    redis_server = PrivateRedis(tmp_path).start()
    yield redis_server
    redis_server.stop()


def test_the_kiosk_limit_per_address_is_a_chinese_429_page(tmp_path, own_redis):
    server, paths = _start(tmp_path, REDIS_URL=own_redis.url, PORTAL_KIOSK_LIMIT_IP="3/minute",
                           PORTAL_KIOSK_LIMIT_POINT="100/minute")
    try:
        statuses = [_rate(server, paths[0], n).status_code for n in range(3)]
        refused = _rate(server, paths[1], 3)  # another point, same address
        assert statuses == [200, 200, 200]
        assert refused.status_code == 429
        assert "过多" in refused.text and "kiosk" in refused.text and "Traceback" not in refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert _count_rows(server) == 3
    finally:
        server.stop()


def test_the_kiosk_limit_per_point_holds_whatever_the_address(tmp_path, own_redis):
    server, paths = _start(tmp_path, REDIS_URL=own_redis.url, PORTAL_PROXY_COUNT="1", PORTAL_KIOSK_LIMIT_IP="100/minute",
                           PORTAL_KIOSK_LIMIT_POINT="3/minute")
    try:
        statuses = [_rate(server, paths[0], n, forwarded_for=f"10.0.0.{n + 1}").status_code for n in range(4)]
        other_point = _rate(server, paths[1], 9, forwarded_for="10.0.0.9").status_code
        assert statuses == [200, 200, 200, 429]
        assert other_point == 200
        assert _count_rows(server) == 4
    finally:
        server.stop()


def test_wrong_query_codes_are_limited_and_right_ones_are_not_counted(tmp_path, own_redis):
    server, paths = _start(tmp_path, REDIS_URL=own_redis.url, PORTAL_QUERY_LOOKUP_LIMIT="3/minute")
    try:
        thanks = _rate(server, paths[0], 0)
        code = re.search(r'id="query-code"[^>]*>([A-Z0-9-]+)<', thanks.text).group(1)
        for _ in range(5):  # looking up one's own code again and again is fine
            assert requests.get(f"{server.url}/q/{code}", timeout=30).status_code == 200
        misses = [requests.get(f"{server.url}/q/ZZZZ-ZZZ{n}", timeout=30).status_code for n in range(2, 6)]
        assert misses == [404, 404, 404, 429]
        limited = requests.get(f"{server.url}/q/ZZZZ-ZZZ7", timeout=30)
        assert limited.status_code == 429 and "过多" in limited.text
    finally:
        server.stop()


def test_with_redis_down_ratings_are_still_taken_and_the_limits_still_hold(tmp_path, own_redis):
    server, paths = _start(tmp_path, REDIS_URL=own_redis.url, PORTAL_KIOSK_LIMIT_IP="3/minute",
                           PORTAL_KIOSK_LIMIT_POINT="100/minute")
    try:
        own_redis.kill9()
        responses = [_rate(server, paths[0], n) for n in range(4)]
        assert [r.status_code for r in responses[:3]] == [200, 200, 200]
        assert all(re.search(r'id="query-code"', r.text) for r in responses[:3])  # thanked, with a 查询码
        assert responses[3].status_code == 429  # counted in the worker's memory while Redis is away
        assert _count_rows(server) == 3
    finally:
        server.stop()
