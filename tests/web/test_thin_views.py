"""Views stay thin: they never commit or roll back (``portal.web.submit`` does, once per request) and they
run no queries of their own (services do)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parents[2] / "portal"
VIEWS = sorted(PORTAL.glob("*/*views.py"))


def _offences(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("commit", "rollback"):
            found.append(f"line {node.lineno}: .{node.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module == "portal.extensions":
            if any(alias.name == "db" for alias in node.names):
                found.append(f"line {node.lineno}: imports db (queries belong in services)")
        if isinstance(node, ast.Import) and any(alias.name == "sqlalchemy" for alias in node.names):
            found.append(f"line {node.lineno}: imports sqlalchemy (queries belong in services)")
    return found


def test_there_are_views_to_check():
    assert len(VIEWS) >= 10


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_views_neither_commit_nor_query(path):
    assert _offences(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("planted", [
    "from portal.extensions import db\ndef v():\n    db.session.commit()\n",
    "def v(session):\n    session.rollback()\n",
    "import sqlalchemy as sa\n",
])
def test_the_check_catches_a_view_that_writes_or_queries(planted):
    assert _offences(planted)
