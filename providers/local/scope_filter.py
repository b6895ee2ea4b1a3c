"""Document scopes in the local index: their table, and which documents a request's scopes hide.

Scopes are kept per document in `document_scopes` (one row per document and scope, removed with the
document), not on the chunks: a scope change rewrites a few rows, never a chunk, a vector or a chunk
id. The rule is the one of `contracts.scopes`: a document without rows is visible to every request;
one with rows only to a request that names one of them. Searches exclude the hidden documents inside
their SQL (keyword), from the candidate rows (vectors) and when passages are read back (fetch), so a
hidden passage never takes one of the `top_k` places. Scope names only ever reach SQL as bound
parameters.
"""

from __future__ import annotations

import sqlite3

import numpy as np

__all__ = [
    "SCOPES_SCHEMA",
    "document_scopes",
    "hidden_documents",
    "hidden_documents_sql",
    "write_document_scopes",
]

# Created with `CREATE ... IF NOT EXISTS` on every open, so an index built before scopes gains the
# (empty) table: its documents stay visible to all, as they were.
SCOPES_SCHEMA = """
CREATE TABLE IF NOT EXISTS document_scopes (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    PRIMARY KEY (document_id, scope)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS document_scopes_scope ON document_scopes(scope, document_id);
"""


def hidden_documents_sql(scopes: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A subquery selecting the ids of the documents `scopes` cannot see, and its bound parameters."""
    everything_scoped = "SELECT document_id FROM document_scopes"
    if not scopes:
        return everything_scoped, ()
    marks = ",".join("?" * len(scopes))
    return f"{everything_scoped} EXCEPT SELECT document_id FROM document_scopes WHERE scope IN ({marks})", scopes


def hidden_documents(connection: sqlite3.Connection, scopes: tuple[str, ...]) -> np.ndarray:
    """The ids of the documents `scopes` cannot see (int64; empty when nothing is hidden)."""
    sql, params = hidden_documents_sql(scopes)
    return np.fromiter((row[0] for row in connection.execute(sql, params)), dtype=np.int64)


def document_scopes(connection: sqlite3.Connection, source: str) -> tuple[str, ...] | None:
    """The scopes the index holds for `source` (sorted, empty for an unscoped document); None if not indexed."""
    row = connection.execute("SELECT id FROM documents WHERE source = ?", (source,)).fetchone()
    if row is None:
        return None
    rows = connection.execute("SELECT scope FROM document_scopes WHERE document_id = ? ORDER BY scope", (row[0],))
    return tuple(scope for (scope,) in rows)


def write_document_scopes(connection: sqlite3.Connection, document_id: int, scopes: tuple[str, ...]) -> None:
    """Make `scopes` the document's scopes (inside the caller's write transaction)."""
    connection.execute("DELETE FROM document_scopes WHERE document_id = ?", (document_id,))
    connection.executemany(
        "INSERT INTO document_scopes(document_id, scope) VALUES (?, ?)", [(document_id, s) for s in scopes]
    )
