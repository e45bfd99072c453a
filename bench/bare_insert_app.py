"""The baseline of the kiosk throughput bench (bench/kiosk_bench.py): a bare Flask endpoint that stores one row.

POST / reads the posted form (rating, comment), inserts one row into ``bench_bare_feedback`` in the same
PostgreSQL database as the portal (SQLAlchemy Core, a pooled connection, one transaction, a random 8-character
code with a unique index, like the 查询码) and answers a small thank-you fragment showing the code, shaped like
the kiosk's (``id="query-code"``). No extensions, no session, no CSRF, no audit trail, no rate limit: what is left
is Flask, the form parser and one INSERT. GET / answers "ok" (readiness).

The table is created by the bench before gunicorn starts (two workers racing on CREATE TABLE would fail).

    BENCH_BARE_DATABASE_URL=postgresql+psycopg://... gunicorn --chdir bench -w 2 bare_insert_app:app
"""
from __future__ import annotations

import os
import secrets

import sqlalchemy as sa
from flask import Flask, render_template_string, request

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_bare_feedback (
    id bigserial PRIMARY KEY,
    rating smallint,
    comment text NOT NULL DEFAULT '',
    code varchar(8) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
)"""

THANKS = """<section class="thanks" role="status" data-query-code="{{ code }}">
  <h1>感谢您的评价！</h1>
  <p>您的查询码</p>
  <p class="code" id="query-code" translate="no">{{ code }}</p>
  <p class="hint">请保存此查询码（拍照即可）：凭它可查看您的意见的处理情况和回复。</p>
  <p><a class="link-button" href="/q/{{ raw }}">查看处理进度</a></p>
</section>
"""

app = Flask(__name__)
# Unset when bench/kiosk_bench.py imports TABLE_DDL from here.
engine = sa.create_engine(os.environ["BENCH_BARE_DATABASE_URL"]) if "BENCH_BARE_DATABASE_URL" in os.environ else None
feedback = sa.table("bench_bare_feedback", sa.column("rating"), sa.column("comment"), sa.column("code"))


@app.get("/")
def ready():
    return "ok"


@app.post("/")
def store():
    try:
        rating = int(request.form.get("rating", ""))
    except ValueError:
        return "rating?", 422
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    with engine.begin() as conn:
        conn.execute(sa.insert(feedback).values(rating=rating, comment=request.form.get("comment", "")[:500],
                                                code=raw))
    return render_template_string(THANKS, code=f"{raw[:4]}-{raw[4:]}", raw=raw)
