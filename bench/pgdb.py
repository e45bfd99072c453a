"""A throwaway PostgreSQL database for a benchmark (created afresh, dropped at the end)."""
from __future__ import annotations


def _admin_engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _run(url: str, *statements: str) -> None:
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            import sqlalchemy as sa

            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def _name(url: str) -> str:
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and recreate {name!r}: a benchmark database's name must contain 'bench'")
    return name


def create_database(url: str) -> None:
    name = _name(url)
    _run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    _run(url, f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')
