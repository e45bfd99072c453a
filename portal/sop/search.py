"""Full-text search of the document register, in Chinese, on SQLite and PostgreSQL.

Chinese has no spaces, and both databases' own full-text tokenizers see a whole run of Chinese characters
as one word; trigram indexes cannot match a two-character word such as 投诉 (see ../shared/LIBRARIES.md).
So the portal cuts the text into words itself with rjieba (jieba in Rust, ``cut_for_search``: the words
and their shorter parts) and stores them, separated by spaces, in ``sop_search.tokens``. The query is cut
the same way, and every word must match:

* **PostgreSQL**: a GIN index on ``to_tsvector('simple', tokens)``; ``@@ plainto_tsquery('simple', …)``.
* **SQLite**: an FTS5 table ``sop_search_fts`` (default ``unicode61`` tokenizer, which splits on the spaces)
  whose rowid is the document id; ``MATCH '"w1" AND "w2"'``.

Both structures are created with the tables (``create_all`` and the migration) and kept up to date by
:func:`index_document`, in the caller's transaction.
"""
from __future__ import annotations

import unicodedata

import rjieba
import sqlalchemy as sa

from portal.extensions import db
from portal.sop.models import DocumentSearch

FTS_TABLE = "sop_search_fts"
PG_INDEX = "ix_sop_search_tsv"
#: Names the migration environment leaves alone (they are not in the models' metadata).
UNMANAGED = (FTS_TABLE, PG_INDEX)
#: At most this many words of a query are used (a pasted paragraph is not a query).
MAX_QUERY_WORDS = 12

_create_fts = sa.DDL(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(tokens)")
_drop_fts = sa.DDL(f"DROP TABLE IF EXISTS {FTS_TABLE}")
_create_gin = sa.DDL(f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON sop_search USING gin (to_tsvector('simple', tokens))")
sa.event.listen(DocumentSearch.__table__, "after_create", _create_fts.execute_if(dialect="sqlite"))
sa.event.listen(DocumentSearch.__table__, "before_drop", _drop_fts.execute_if(dialect="sqlite"))
sa.event.listen(DocumentSearch.__table__, "after_create", _create_gin.execute_if(dialect="postgresql"))


def _is_word(token: str) -> bool:
    """A token worth indexing: it has a letter or a digit (not only spaces or punctuation)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def words(text: str) -> list[str]:
    """The search words of ``text``: jieba's cut for search, lower-cased, punctuation dropped, each once, in order."""
    seen: dict[str, None] = {}
    for token in rjieba.cut_for_search(unicodedata.normalize("NFKC", text or "")):
        token = token.strip().lower()
        if token and _is_word(token):
            seen.setdefault(token, None)
    return list(seen)


def tokens_for(*parts: str) -> str:
    return " ".join(words("\n".join(p for p in parts if p)))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def index_document(document_id: int, *parts: str) -> None:
    """Replace the search tokens of a document by those of ``parts`` (code, title, tags, text)."""
    tokens = tokens_for(*parts)
    row = db.session.get(DocumentSearch, document_id)
    if row is None:
        db.session.add(DocumentSearch(document_id=document_id, tokens=tokens))
    else:
        row.tokens = tokens
    db.session.flush()
    if _dialect() == "sqlite":
        db.session.execute(sa.text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": document_id})
        db.session.execute(sa.text(f"INSERT INTO {FTS_TABLE} (rowid, tokens) VALUES (:id, :tokens)"),
                           {"id": document_id, "tokens": tokens})


def query_words(query: str) -> list[str]:
    return words(query)[:MAX_QUERY_WORDS]


def matching_ids(query: str):
    """A subquery of the ids of the documents whose tokens hold every word of ``query``, or None when the
    query has no words (the caller then does not filter)."""
    found = query_words(query)
    if not found:
        return None
    if _dialect() == "postgresql":
        # MATERIALIZED: the matches are found once, through the GIN index, then joined. Without the fence the
        # planner may walk sop_document in code order (the register's ORDER BY code LIMIT 25) and test each
        # document's row with @@, which recomputes to_tsvector(tokens) row by row (the index is on an
        # expression; there is no stored tsvector): 0.1–0.3 ms a row, hundreds of milliseconds for a word
        # found in 1–10 % of 20,000 documents (bench/sop_search_bench.py).
        matches = (sa.select(DocumentSearch.document_id)
                   .where(sa.func.to_tsvector(sa.literal_column("'simple'"), DocumentSearch.tokens)
                          .op("@@")(sa.func.plainto_tsquery(sa.literal_column("'simple'"), " ".join(found))))
                   .cte("sop_search_match").prefix_with("MATERIALIZED"))
        return sa.select(matches.c.document_id)
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in found)
    return sa.select(sa.column("rowid")).select_from(sa.table(FTS_TABLE)).where(
        sa.text(f"{FTS_TABLE} MATCH :match").bindparams(match=match))
