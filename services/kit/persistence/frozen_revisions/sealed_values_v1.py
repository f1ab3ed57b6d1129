"""A downgrade that would unseal columns refuses while any of them holds a sealed value (`pii1.` followed
by a key id): a migration holds no keys, so the service unseals first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


def refuse_while_sealed(op: Any, service: str, sealed: Mapping[str, Sequence[str]], *, also: int = 0) -> None:
    """Raises while any column of `sealed` (table: columns) holds a sealed value, or `also` counts others."""
    count = sum(sealed_rows(op, table, columns) for table, columns in sealed.items()) + also
    if count:
        raise RuntimeError(f"{count} {service} rows are sealed: run `teei pii unseal --service {service}` first")


def sealed_rows(op: Any, table: str, columns: Sequence[str]) -> int:
    """Rows of `table` holding a sealed value (`pii1.` followed by a key id)."""
    where = " OR ".join(f"{c} LIKE 'pii1.%'" for c in columns)
    query = f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608 - names are the calling revision's constants
    return int(op.get_bind().execute(sa.text(query)).scalar() or 0)
