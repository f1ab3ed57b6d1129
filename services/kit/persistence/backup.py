"""Backups of a whole mesh: every service database, the JetStream streams and consumers, and the key
material under var/ (encrypted), described by a sealed manifest; verified before anything is restored.

The key store of the people's data keys (var/keystore/, services/kit/security/pii) is never in a
backup: erasing a person destroys their key there, which makes their sealed fields unreadable in every
backup taken before. A restore reads with the live key store (`Target.keystore_from`)."""

from __future__ import annotations

import asyncio
import io
import json
import platform
import shutil
import sqlite3
import tarfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from services.kit.persistence import backup_crypto as crypto
from services.kit.persistence import backup_databases as databases
from services.kit.persistence import backup_manifest as manifest
from services.kit.persistence import backup_streams as streams
from services.kit.security.pii.keystore import KEYSTORE_DIR

PREFIX = "teei-backup-"
SECRETS_FILE = "secrets.enc"
STREAMS_DIR = "streams"
# What under var/ is not key material: the databases and streams (backed up on their own), and what the
# mesh writes afresh at every start.
_NOT_SECRETS = {"nats", "logs", "envoy", "backups", "mesh.json", KEYSTORE_DIR}
_DB_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal")
# What may already be in the var folder a backup is restored into.
_ALLOWED_IN_EMPTY = {"logs", "backups"}


class BackupError(Exception):
    """A backup cannot be made, or is refused: the message names the file at fault."""


@dataclass(frozen=True)
class Source:
    """What to back up: a var folder, the mesh's NATS (None: a private server over var/nats) and the services'
    PostgreSQL databases by service name (`postgres`: one database the services share)."""

    var_dir: Path
    nats_url: str | None = None
    postgres: dict[str, str] = field(default_factory=dict)
    private_nats_port: int = 0


@dataclass
class Timings:
    """Seconds per phase."""

    phases: dict[str, float] = field(default_factory=dict)

    def measure(self, name: str, started: float) -> None:
        """Records the time since `started` under `name`."""
        self.phases[name] = round(time.monotonic() - started, 3)


def create(source: Source, destination: Path, passphrase: bytes) -> Path:
    """A new backup folder under `destination`: consumers' positions, then databases, then streams
    (in that order a restore can only redeliver, never skip), then the key material."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = destination / f"{PREFIX}{stamp}"
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    try:
        document = _create(source, partial, passphrase)
        (partial / manifest.MANIFEST).write_bytes(manifest.dump(document))
        (partial / manifest.SEAL).write_text(crypto.seal(manifest.dump(document), passphrase))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(folder)
    return folder


def _create(source: Source, folder: Path, passphrase: bytes) -> dict[str, Any]:
    timings, started = Timings(), time.monotonic()
    (folder / "databases").mkdir()
    (folder / STREAMS_DIR).mkdir()
    with _nats(source) as url:
        copies, counts, states = asyncio.run(_capture(source, url, folder, timings))
    phase = time.monotonic()
    (folder / SECRETS_FILE).write_bytes(crypto.encrypt(_secrets_archive(source.var_dir), passphrase))
    timings.measure("secrets", phase)
    timings.measure("total", started)
    return {
        "format": manifest.FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "versions": _versions(),
        "databases": {copy.name: copy.as_json() for copy in copies},
        "streams": counts,
        "consumers": [
            {"stream": s.stream, "name": s.config.get("durable_name"), "ack_floor": s.ack_floor} for s in states
        ],
        "timings": timings.phases,
        "files": manifest.files_of(folder),
    }


async def _capture(
    source: Source, url: str, folder: Path, timings: Timings
) -> tuple[list[databases.DatabaseCopy], dict[str, int], list[streams.ConsumerState]]:
    async with streams.jetstream(url) as js:
        states = await streams.consumer_states(js)
        phase = time.monotonic()
        copies = await asyncio.to_thread(_copy_databases, source, folder / "databases")
        timings.measure("databases", phase)
        phase = time.monotonic()
        counts = await streams.export(js, folder / STREAMS_DIR, states)
        timings.measure("streams", phase)
    return copies, counts, states


def _copy_databases(source: Source, target: Path) -> list[databases.DatabaseCopy]:
    copies = [databases.copy_sqlite(path, target / path.name) for path in databases.sqlite_files(source.var_dir)]
    for name, url in sorted(source.postgres.items()):
        copies.append(databases.dump_postgres(name, url, target / f"{name}{databases.DUMP_SUFFIX}"))
    return copies


def _nats(source: Source) -> AbstractContextManager[str]:
    if source.nats_url:
        return nullcontext(source.nats_url)
    return streams.private_server(source.var_dir / "nats", source.private_nats_port)


def _versions() -> dict[str, str]:
    return {
        "teei-mesh": package_metadata.version("teei-mesh"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _secrets_archive(var_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(var_dir.rglob("*")):
            relative = path.relative_to(var_dir)
            if path.is_file() and relative.parts[0] not in _NOT_SECRETS and not path.name.endswith(_DB_SUFFIXES):
                archive.add(path, arcname=relative.as_posix())
    return buffer.getvalue()


def list_backups(destination: Path) -> list[Path]:
    """The complete backups under `destination`, oldest first."""
    if not destination.is_dir():
        return []
    return sorted(p for p in destination.glob(f"{PREFIX}*") if p.is_dir() and not p.name.endswith(".partial"))


def prune(destination: Path, *, keep: int) -> list[Path]:
    """Deletes all but the newest `keep` backups; the deleted folders."""
    doomed = list_backups(destination)[:-keep] if keep > 0 else []
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder (not verified)."""
    path = folder / manifest.MANIFEST
    if not path.is_file():
        raise BackupError(f"{path}: missing; not a backup folder")
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def verify(folder: Path, passphrase: bytes) -> list[str]:
    """Every problem of a backup, each naming its file; empty when the backup is intact."""
    try:
        raw = (folder / manifest.MANIFEST).read_bytes()
        sealed = (folder / manifest.SEAL).read_text(errors="replace")
    except OSError as exc:
        return [f"{exc.filename}: {exc.strerror}"]
    if not crypto.seal_holds(raw, sealed, passphrase):
        return [f"{manifest.MANIFEST}: its seal ({manifest.SEAL}) does not hold: altered, or a wrong passphrase"]
    document = json.loads(raw)
    problems = _file_problems(document["files"], manifest.files_of(folder))
    if problems:
        return problems
    for database in document["databases"].values():
        if database["kind"] == "sqlite":
            actual = manifest.sqlite_tables(folder / database["file"])
            problems += [f"{database['file']}: {p}" for p in manifest.table_differences(database["tables"], actual)]
    try:
        crypto.decrypt((folder / SECRETS_FILE).read_bytes(), passphrase)
    except crypto.BackupCryptoError as exc:
        problems.append(f"{SECRETS_FILE}: {exc}")
    return problems


def _file_problems(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    problems = [f"{name}: missing" for name in sorted(expected) if name not in actual]
    problems += [f"{name}: not in the manifest" for name in sorted(actual) if name not in expected]
    problems += [
        f"{name}: SHA-256 differs from the manifest"
        for name in sorted(actual)
        if expected.get(name, actual[name]) != actual[name]
    ]
    return problems


@dataclass(frozen=True)
class Target:
    """Where a backup goes back: an empty var folder, and an empty PostgreSQL database for each dump it holds,
    by the dump's service name."""

    var_dir: Path
    postgres: dict[str, str] = field(default_factory=dict)
    private_nats_port: int = 0
    # The live key store folder whose data keys the restored mesh reads with (copied into var/keystore/).
    keystore_from: Path | None = None


def restore(folder: Path, target: Target, passphrase: bytes) -> dict[str, float]:
    """Verifies, then restores databases, key material and streams; checks every restored table against
    the manifest. Seconds per phase (`total` after the verification)."""
    timings, started = Timings(), time.monotonic()
    problems = verify(folder, passphrase)
    if problems:
        raise BackupError("backup refused: " + "; ".join(problems))
    timings.measure("verify", started)
    _require_empty(target.var_dir)
    document, started = read_manifest(folder), time.monotonic()
    _require_postgres_targets(document, target)
    target.var_dir.mkdir(parents=True, exist_ok=True)
    for name, database in document["databases"].items():
        _restore_database(folder, name, database, target)
    timings.measure("databases", started)
    phase = time.monotonic()
    _extract_secrets(crypto.decrypt((folder / SECRETS_FILE).read_bytes(), passphrase), target.var_dir)
    _restore_streams(folder / STREAMS_DIR, target)
    if target.keystore_from is not None:
        _copy_keystore(target.keystore_from, target.var_dir / KEYSTORE_DIR)
    timings.measure("streams_and_secrets", phase)
    timings.measure("total", started)
    return timings.phases


def _copy_keystore(live: Path, into: Path) -> None:
    """Consistent copies of the live key stores (destroyed keys stay destroyed: nothing older is used)."""
    for path in databases.sqlite_files(live):
        databases.copy_sqlite(path, into / path.name)


def _restore_database(folder: Path, name: str, database: dict[str, Any], target: Target) -> None:
    if database["kind"] == "sqlite":
        restored = target.var_dir / Path(database["file"]).name
        shutil.copyfile(folder / database["file"], restored)
        actual = manifest.sqlite_tables(restored)
    else:
        try:
            databases.restore_postgres(folder / database["file"], target.postgres[name])
        except databases.DatabaseBackupError as exc:
            raise BackupError(f"{database['file']}: {exc}") from exc
        actual = manifest.postgres_tables(target.postgres[name])
    differences = manifest.table_differences(database["tables"], actual)
    if differences:
        raise BackupError(f"{name} restored with differences: " + "; ".join(differences))


def _require_postgres_targets(document: dict[str, Any], target: Target) -> None:
    """Every dump has a target database, checked before anything is restored."""
    dumps = {name: d["file"] for name, d in document["databases"].items() if d["kind"] == "postgresql"}
    missing = [
        f"{file} (--database-url {name}=URL)" for name, file in sorted(dumps.items()) if name not in target.postgres
    ]
    if missing:
        raise BackupError("PostgreSQL dumps need an empty target database each: " + ", ".join(missing))


def _require_empty(var_dir: Path) -> None:
    present = sorted(p.name for p in var_dir.iterdir() if p.name not in _ALLOWED_IN_EMPTY) if var_dir.is_dir() else []
    if present:
        raise BackupError(f"{var_dir} is not empty ({', '.join(present[:5])}): restore only into an empty var folder")


def _extract_secrets(archive: bytes, var_dir: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(var_dir, filter="data")


def _restore_streams(folder: Path, target: Target) -> None:
    with streams.private_server(target.var_dir / "nats", target.private_nats_port) as url:
        asyncio.run(_import(folder, url))


async def _import(folder: Path, url: str) -> None:
    async with streams.jetstream(url) as js:
        await streams.import_into(js, folder)
