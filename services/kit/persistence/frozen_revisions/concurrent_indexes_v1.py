"""Indexes built and dropped CONCURRENTLY on PostgreSQL, outside the migration's transaction, so writers
are never blocked; SQLite takes the plain DDL inside it. `indexes` maps an index name to (table, columns)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

Indexes = Mapping[str, tuple[str, Sequence[str | sa.TextClause]]]


def create(op: Any, indexes: Indexes, *, postgresql_only: frozenset[str] = frozenset()) -> None:
    """Builds `indexes`, those named in `postgresql_only` on PostgreSQL alone."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    with outside_transaction(op):
        for name, (table, columns) in indexes.items():
            if name in postgresql_only and not postgresql:
                continue
            # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it so a rerun succeeds.
            op.drop_index(name, table, if_exists=True, postgresql_concurrently=True)
            op.create_index(name, table, list(columns), postgresql_concurrently=True)


def drop(op: Any, indexes: Indexes) -> None:
    with outside_transaction(op):
        for name, (table, _) in indexes.items():
            op.drop_index(name, table, if_exists=True, postgresql_concurrently=True)


@contextlib.contextmanager
def outside_transaction(op: Any) -> Iterator[None]:
    # CONCURRENTLY cannot run in a transaction; SQLite has no such option and takes the plain DDL in it.
    if op.get_bind().dialect.name != "postgresql":
        yield
        return
    with op.get_context().autocommit_block():
        yield
