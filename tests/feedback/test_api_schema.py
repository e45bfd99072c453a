"""Schema-driven fuzzing of /api/v1 with schemathesis: every operation of the OpenAPI document, with data that
fits the schema (positive) and data that does not (negative), sent in process through schemathesis' WSGI
transport to the real application (its database, its Redis) with a read+write token given through
schemathesis' own auth configuration for the document's ``bearerAuth`` scheme. Each response goes through
schemathesis' checks: no server error, a status the document lists, the documented content type, headers and
body schema, schema-valid data accepted and invalid data refused.

Cases come from schemathesis' Hypothesis strategies (``operation.as_strategy(generation_mode=...)``), run
with ``@given`` inside each test. (``schemathesis.pytest.from_fixture``, the lazy pytest integration a
fixture-built application needs, stops at ``request.node._nodeid`` under pytest 9.2, which no longer has it.)

Positive data is made realistic before it is sent, without leaving the schema: a well-formed service point
code becomes the code of a real point and well-formed categories become that point's, so that schema-valid
submissions are stored (201) rather than refused as unknown (422, tested in test_api.py); an Idempotency-Key
is tied to the body it came with, so that a key drawn twice for two different bodies (422, tested in
test_api.py) does not pass for a refused valid request, while the same key with the same body is replayed.

Each operation gets EXAMPLES positive and EXAMPLES negative cases, so the run makes at least
3 × 2 × EXAMPLES (1,200 by default) requests; the counts and the statuses are printed (``-s``).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from portal.core.roles import DEPT_HEAD
from tests.feedback.api_helpers import issue_token
from tests.feedback.helpers import make_point, receive
from tests.helpers import create_department, create_user

#: Hypothesis examples per operation and generation mode (API_FUZZ_EXAMPLES for a longer run).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "200"))
POINTS = {"KF01": ("服务态度", "等候时间"), "YY-02": ("办理效率",)}
OPERATIONS = [("GET", "/service-points"), ("POST", "/feedback"), ("GET", "/feedback")]


@pytest.fixture
def api_schema(app):
    """The document as the application serves it, with a token for both scopes and some data to read."""
    head = create_user("head_fuzz", roles=(DEPT_HEAD,))
    department = create_department("客服部", head=head)
    points = [make_point(code, department, name=f"{code} 窗口", categories="\n".join(categories))
              for code, categories in POINTS.items()]
    make_point("OFF1", department, active=False)
    for n in range(12):
        receive(points[n % 2], rating=1 + n % 5, comment=f"样例{n}")
    token = issue_token(("read", "write"), name="fuzz")
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"bearerAuth": {"bearer": token}}}})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


def _well_formed(value, max_length: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def make_realistic(case) -> None:
    """Point well-formed service point codes and categories of a submission at real ones (see the module's
    docstring); anything malformed is left as generated."""
    if case.method.upper() != "POST" or not isinstance(case.body, dict):
        return
    body = dict(case.body)
    code = body.get("service_point")
    if _well_formed(code, 24):
        code = sorted(POINTS)[int(hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest(), 16) % len(POINTS)]
        body["service_point"] = code
        categories = body.get("categories")
        if isinstance(categories, list):
            allowed = POINTS[code]
            body["categories"] = [allowed[i % len(allowed)] if _well_formed(c, 20) else c
                                  for i, c in enumerate(categories)]
    case.body = body
    headers = dict(case.headers or {})
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and key and len(key) <= 100 and key.isascii() and key.isprintable():
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
        headers["Idempotency-Key"] = f"{key[:90]}-{digest.hexdigest()[:8]}"
        case.headers = headers


def test_every_operation_of_the_document_is_fuzzed(api_schema):
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_the_api_keeps_to_its_openapi_document(api_schema, client, method, path):
    operation = api_schema[path][method]
    statuses: Counter[tuple[str, int]] = Counter()

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            make_realistic(case)
            response = case.call_and_validate(session=client)
            statuses[(case.meta.generation.mode.value, response.status_code)] += 1

        run()

    total = sum(statuses.values())
    summary = ", ".join(f"{m} {status} × {n}" for (m, status), n in sorted(statuses.items()))
    print(f"\nschemathesis {method} {path}: {total} requests ({summary})")
    assert total >= 2 * EXAMPLES * 0.9, summary  # Hypothesis stops early only when it runs out of distinct cases
    # Most schema-valid requests went through (a few carry a generated Authorization header instead of ours);
    # refused ones were checked by schemathesis (negative data with only unknown query parameters is accepted,
    # as the document does not forbid extra parameters).
    positive = sum(n for (m, status), n in statuses.items() if m == "positive" and status < 300)
    assert positive >= EXAMPLES * 0.9, summary
