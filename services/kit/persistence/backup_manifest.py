"""What a backup says about itself: per-table row counts and content checksums, migration heads, and the
SHA-256 of every file; checked again by `verify` and after a restore."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

MANIFEST = "manifest.json"
SEAL = "manifest.seal"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TableStats:
    """A table's row count and the SHA-256 over its rows in a fixed order."""

    rows: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        """The manifest's form."""
        return {"rows": self.rows, "sha256": self.sha256}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_of(root: Path) -> dict[str, str]:
    """Every file under `root` but the manifest and its seal, by relative path, with its SHA-256."""
    return {
        path.relative_to(root).as_posix(): file_sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in (MANIFEST, SEAL)
    }


def _digest_rows(rows: Iterable[tuple[Any, ...]]) -> TableStats:
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(repr(row).encode())
        digest.update(b"\n")
        count += 1
    return TableStats(count, digest.hexdigest())


def sqlite_tables(path: Path) -> dict[str, TableStats]:
    """Every table of a SQLite file (read through a read-only connection), in name order."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {name: _sqlite_table(connection, name) for name in names}
    finally:
        connection.close()


def _sqlite_table(connection: sqlite3.Connection, name: str) -> TableStats:
    columns = len(connection.execute(f'PRAGMA table_info("{name}")').fetchall())
    order = ", ".join(str(i) for i in range(1, columns + 1))
    return _digest_rows(connection.execute(f'SELECT * FROM "{name}" ORDER BY {order}'))  # noqa: S608 - names from the catalogue


def postgres_tables(url: str) -> dict[str, TableStats]:
    """Every table of the database's public schema, in name order, read in one repeatable-read snapshot."""
    import psycopg  # noqa: PLC0415 (the postgres extra: only a PostgreSQL URL gets here)

    with psycopg.connect(_libpq(url)) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        names = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {name: postgres_table(connection, name) for name in names}


def postgres_table(connection: psycopg.Connection[Any], name: str) -> TableStats:
    columns = connection.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s", (name,)
    ).fetchone()
    order = ", ".join(str(i) for i in range(1, int(columns[0] if columns else 0) + 1))
    with connection.cursor(name=f"backup_{name}") as cursor:
        cursor.itersize = 5000
        cursor.execute(f'SELECT * FROM "{name}" ORDER BY {order}')  # noqa: S608 - names from the catalogue
        return _digest_rows(_bytes_as_bytes(cursor))


def _bytes_as_bytes(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    # psycopg returns bytea as memoryview, whose repr is an address: hash the bytes instead.
    for row in rows:
        yield tuple(bytes(value) if isinstance(value, memoryview) else value for value in row)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def migration_heads(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[str]]:
    """`alembic_version_<service>` rows by service."""
    prefix = "alembic_version_"
    return {
        name[len(prefix) :]: sorted(str(r[0]) for r in rows) for name, rows in tables.items() if name.startswith(prefix)
    }


def sqlite_heads(path: Path) -> dict[str, list[str]]:
    """The migration heads recorded in a SQLite file."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE name LIKE 'alembic_version_%'")]
        return migration_heads({n: connection.execute(f'SELECT * FROM "{n}"').fetchall() for n in names})  # noqa: S608
    finally:
        connection.close()


def postgres_heads(url: str) -> dict[str, list[str]]:
    """The migration heads recorded in a PostgreSQL database."""
    import psycopg  # noqa: PLC0415 (the postgres extra: only a PostgreSQL URL gets here)

    with psycopg.connect(_libpq(url)) as connection:
        names = [
            r[0]
            for r in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'alembic_version_%%'"
            )
        ]
        return migration_heads({n: connection.execute(f'SELECT * FROM "{n}"').fetchall() for n in names})  # noqa: S608


def stats_json(stats: dict[str, TableStats]) -> dict[str, dict[str, Any]]:
    """Table statistics in the manifest's form."""
    return {name: item.as_json() for name, item in stats.items()}


def table_differences(expected: dict[str, Any], actual: dict[str, TableStats]) -> list[str]:
    """Tables whose row count or checksum differs from the manifest's, each named with what differs."""
    problems = [f"{name}: missing" for name in expected if name not in actual]
    problems += [f"{name}: not in the manifest" for name in actual if name not in expected]
    for name, item in actual.items():
        want = expected.get(name)
        if want is None:
            continue
        if want["rows"] != item.rows:
            problems.append(f"{name}: {item.rows} rows, manifest says {want['rows']}")
        elif want["sha256"] != item.sha256:
            problems.append(f"{name}: content checksum differs from the manifest")
    return problems


def dump(manifest: dict[str, Any]) -> bytes:
    """The manifest's canonical bytes."""
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
