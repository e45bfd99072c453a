"""Migrations are history: they import no live code of the portal (editing a module must not change what an
old migration does) and carry no leftover autogenerate comments."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = sorted((Path(__file__).resolve().parent.parent / "migrations" / "versions").glob("*.py"))


def test_there_are_migrations():
    assert VERSIONS


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name[:12])
def test_a_migration_imports_nothing_from_the_portal(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [name for name in imported if name.split(".")[0] == "portal"] == []
    assert "portal." not in path.read_text(encoding="utf-8").replace("portal/processes/clauses.py", "")


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name[:12])
def test_no_leftover_autogenerate_comments(path):
    text = path.read_text(encoding="utf-8")
    assert "please adjust" not in text and "end Alembic commands" not in text


def test_the_frozen_clause_list_matches_the_one_the_portal_seeds_today():
    """Not a rule for history, a reminder: when portal/processes/clauses.py changes, add a migration."""
    from portal.processes.clauses import CLAUSES

    [path] = [p for p in VERSIONS if "iso_clauses" in p.name]
    namespace: dict = {}
    source = path.read_text(encoding="utf-8")
    start = source.index("ISO_CLAUSES = [")
    exec(source[start:source.index("]\n", start) + 2], namespace)
    assert namespace["ISO_CLAUSES"] == list(CLAUSES)
