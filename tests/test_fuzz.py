"""No HTTP 500 on any input: hypothesis drives every route of the URL map, as every role, plain and htmx,
with hostile values in every path part, query parameter and form field.

Nothing here names a route or a field: routes come from ``app.url_map``, query parameter names from the
source of portal/ (``request.args.get("…")``, ``arg_int("…")``, …), form field names from every form
class and every ``request.form.get("…")``. A new route or field is fuzzed without editing this file.

``FUZZ_EXAMPLES`` (default 5000) sets the number of requests; ``make test`` runs it on SQLite and on
PostgreSQL. The test prints how many requests each status code got.
"""
from __future__ import annotations

import io
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from portal.core.forms import PortalForm
from portal.core.roles import ADMIN, DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
from portal.extensions import db, rq
from tests.helpers import client_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # 5,000 requests: minutes on a loaded machine

PORTAL = Path(__file__).resolve().parent.parent / "portal"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5000"))

HOSTILE_TEXT = [
    "", " ", "0", "1", "2", "3", "-1", "-0", "00", "007", "2147483647", "2147483648", "9223372036854775807",
    "9223372036854775808", str(2**63), str(10**30), "9" * 25, "1e999999", "-1e999999", "1e-999999", "NaN", "inf",
    "-Infinity", "0x10", "1_000", "１２", "²", "١٢٣", "一二三", "\x00", "a\x00b", "a" * 10_000, "😀" * 20, "🏳️‍🌈",
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "1900-01-01", "2027-01-01", "20261202", "12/02/2026",
    "<script>alert(1)</script>", "' OR 1=1 --", "%00", "%s%s%n", "../../etc/passwd", "true", "false", "on", "[]",
    "{}", "null", "None", "\t\n\r", "A", "R", "C", "I", "x", "admin", "draft", "published", "month", "all",
    "active", "inactive", "zh_Hans_CN", "en", "https://127.0.0.1:5102/healthz", "/\\evil.example", "//evil",
]
hostile = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=0, max_value=60).map(str),
    st.text(max_size=40),
    st.dates().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def _names_in_source(patterns: list[str]) -> list[str]:
    found: set[str] = set()
    for path in PORTAL.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            found.update(re.findall(pattern, text))
    return sorted(found)


QUERY_NAMES = _names_in_source([r'args\.get(?:list)?\(\s*"(\w+)"', r'\barg_\w+\(\s*"(\w+)"', r'FILTER_KEYS = \(([^)]*)\)'])
QUERY_NAMES = sorted({n.strip(' "') for name in QUERY_NAMES for n in name.split(",")} - {""}) + ["page", "q", "next"]


def _form_field_names() -> list[str]:
    names: set[str] = set()
    pending = [PortalForm]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        for klass in cls.__mro__:
            names.update(n for n, v in vars(klass).items() if isinstance(v, UnboundField))
    names.update(_names_in_source([r'request\.form\.get(?:list)?\(\s*"(\w+)"', r'request\.form\[\s*"(\w+)"\s*\]',
                                   r'f"mode-\{kind\.key\}"']))
    # csrf_token is left out: a hostile token is refused before the view runs (tests/web/test_security.py).
    return sorted((names | {"mode-system.announcement", "mode-policy.reminder"}) - {"csrf_token"})


FORM_NAMES = _form_field_names()
#: Administrators first: hypothesis draws early entries more often, and they may use every route.
ROLES = (ADMIN, QUALITY_MANAGER, DEPT_HEAD, EMPLOYEE, "anonymous")


def _routes(app) -> list[tuple[str, object, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, rule, method))
    return sorted(out, key=lambda r: (r[0], r[2]))


def _path_value(converter_name: str):
    if converter_name in ("int", "IntegerConverter", "DatabaseIdConverter"):
        return st.one_of(st.integers(min_value=0, max_value=60), st.integers(min_value=-5, max_value=2**80))
    return hostile.filter(lambda s: s and "/" not in s and "\x00" not in s)


def _lost_the_session(client, response) -> bool:
    """The fuzzer logged itself out (logout, "log out everywhere", a password reset, a deactivation)."""
    location = response.headers.get("Location", "") + response.headers.get("HX-Redirect", "")
    return (not client.logged_in() or response.status_code == 401 or "/login" in location
            or "/account/password" in location)


def _log_in_again(app, user):
    from portal.org.accounts import set_password
    from tests.helpers import DEFAULT_PASSWORD

    db.session.refresh(user)
    user.active = True
    set_password(user, DEFAULT_PASSWORD, must_change=False)
    db.session.commit()
    return client_for(app, user)


@pytest.fixture
def demo(app):
    """The demo organisation, policy, matrix and objectives, so that ids in URLs reach real records."""
    from portal.core.registry import demo_seeders

    for seeder in demo_seeders:
        if seeder.key != "notifications":  # the morning's announcements add nothing to fuzz and take time
            seeder.fn()
    db.session.commit()


def test_no_route_answers_500_to_hostile_input(app, demo, capsys):
    from tests.helpers import create_user

    users = {role: create_user(f"fuzz_{role}", roles=(role,)) for role in ROLES if role != "anonymous"}
    db.session.commit()
    clients = {role: client_for(app, user) for role, user in users.items()}
    clients["anonymous"] = app.test_client()
    routes = _routes(app)
    statuses: Counter = Counter()
    assert len(routes) > 50 and QUERY_NAMES and FORM_NAMES

    per_route = max(1, -(-EXAMPLES // len(routes)))  # every route gets its share

    @st.composite
    def request_for(draw, rule, method):
        values = {arg: draw(_path_value(type(rule._converters[arg]).__name__)) for arg in rule.arguments}
        query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), hostile, max_size=4))
        form = draw(st.dictionaries(st.sampled_from(FORM_NAMES), hostile, max_size=8)) if method != "GET" else {}
        upload = draw(st.one_of(st.none(), st.binary(max_size=3000))) if method == "POST" else None
        return values, query, form, upload, draw(st.sampled_from(ROLES)), draw(st.booleans())

    def send(rule, method, spec):
        values, query, form, upload, role, htmx = spec
        try:
            path = rule.build(values, append_unknown=False)[1]
        except Exception:  # a value the converter refuses cannot be a URL of this rule
            return
        client = clients[role]
        headers = {"HX-Request": "true"} if htmx else {}
        data = dict(form)
        if upload is not None:
            data["file"] = (io.BytesIO(upload), "upload.xlsx")
        if method == "GET":
            response = client.get(path, query_string=query, headers=headers)
        else:
            response = getattr(client, method.lower())(path, query_string=query, data=data, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code != 500, (method, path, query, form, role)
        if role != "anonymous" and _lost_the_session(client, response):
            clients[role] = _log_in_again(app, users[role])

    def fuzz():
        for _endpoint, rule, method in routes:
            @settings(max_examples=per_route, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(request_for(rule, method))
            def one_route(spec):
                send(rule, method, spec)

            one_route()

    try:
        fuzz()
    finally:
        rq.queue().empty()
    with capsys.disabled():
        print(f"\nfuzz: {sum(statuses.values())} requests over {len(routes)} routes × {len(ROLES)} roles; "
              f"statuses {dict(sorted(statuses.items()))}")
    assert statuses[500] == 0
    assert sum(statuses.values()) >= min(EXAMPLES, 5000) * 0.9  # nearly every example made a request
