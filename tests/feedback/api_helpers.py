"""What the API tests share: tokens issued through the service, and requests carrying them."""
from __future__ import annotations

import json

from portal.api import services as api_services
from portal.extensions import db

PROBLEM = "application/problem+json"


def issue_token(scopes=("read", "write"), name: str = "一号评价器") -> str:
    """A token issued as the command line does (no acting user); returns the plain token."""
    _row, plain = api_services.create_token(None, name, list(scopes))
    db.session.commit()  # a SAVEPOINT release inside the test's transaction
    return plain


def bearer(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


def post_feedback(client, token: str, body, key: str | None = None, **headers):
    """POST /api/v1/feedback with a JSON body (``body`` already a string is sent as it is)."""
    extra = dict(headers)
    if key is not None:
        extra["Idempotency-Key"] = key
    data = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    return client.post("/api/v1/feedback", data=data, content_type="application/json", headers=bearer(token, **extra),
                       csrf=False)


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """The response is an RFC 9457 problem document of ``status`` (and ``code``); returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == PROBLEM, response.mimetype
    body = response.get_json(force=True)
    assert {"type", "title", "status", "code", "detail"} <= set(body), body
    assert body["status"] == status
    assert body["type"].endswith(":" + body["code"])
    if code is not None:
        assert body["code"] == code, body
    return body


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
