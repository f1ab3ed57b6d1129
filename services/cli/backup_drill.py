"""`teei backup drill`: proves a backup restores. Create → restore into a scratch folder → start a second
mesh on free ports → every table equal to the manifest, compared with the source, and the pending events
delivered → a report (JSON on stdout) with the times and sizes an RPO/RTO estimate needs."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.cli import spec
from services.cli.launcher import Mesh
from services.kit.persistence import backup, backup_manifest, backup_streams, db
from services.kit.security.pii.keystore import KEYSTORE_DIR

DRAIN_SECONDS = 120.0


@dataclass
class DrillReport:
    """What the drill measured and found."""

    backup: str = ""
    backup_seconds: float = 0.0
    backup_bytes: int = 0
    verify_seconds: float = 0.0
    restore_seconds: float = 0.0
    mesh_start_seconds: float = 0.0
    drain_seconds: float = 0.0
    tables: int = 0
    rows: int = 0
    tables_equal_to_manifest: int = 0
    tables_changed_in_source_since: list[str] = field(default_factory=list)
    pending_outbox_at_backup: int = 0
    pending_consumer_messages_at_start: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def recovery_seconds(self) -> float:
        """Restore plus start of the restored mesh: the measured recovery time."""
        return round(self.restore_seconds + self.mesh_start_seconds, 3)


def run(args: argparse.Namespace, source: backup.Source, passphrase: bytes, targets: dict[str, str]) -> int:
    """The whole drill; exit code 1 when any check failed."""
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="teei-drill-"))
    report = drill(source, args.to or source.var_dir / "backups", scratch / "var", passphrase, targets)
    print(json.dumps({**asdict(report), "recovery_seconds": report.recovery_seconds}, indent=2))
    return 1 if report.problems else 0


def drill(
    source: backup.Source,
    destination: Path,
    scratch_var: Path,
    passphrase: bytes,
    targets: dict[str, str] | None = None,
) -> DrillReport:
    """Runs the drill against `source`, restoring into `scratch_var` (which must be empty) and each PostgreSQL
    database of the source into the empty one `targets` gives for its service; the second mesh runs on them."""
    targets = targets or {}
    report = DrillReport()
    started = time.monotonic()
    folder = backup.create(source, destination, passphrase)
    report.backup_seconds = round(time.monotonic() - started, 3)
    report.backup = str(folder)
    report.backup_bytes = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    document = backup.read_manifest(folder)
    started = time.monotonic()
    live_keys = source.var_dir / KEYSTORE_DIR
    target = backup.Target(scratch_var, targets, spec.free_port(), keystore_from=live_keys)
    phases = backup.restore(folder, target, passphrase)
    report.restore_seconds = round(time.monotonic() - started, 3)
    report.verify_seconds = phases["verify"]
    _compare(document, backup.Target(source.var_dir, source.postgres), backup.Target(scratch_var, targets), report)
    report.pending_outbox_at_backup = sum(_pending_outbox(url) for url in _database_urls(scratch_var, targets))
    _run_restored(scratch_var, targets, report)
    return report


def _compare(document: dict[str, Any], source: backup.Target, restored: backup.Target, report: DrillReport) -> None:
    for name, database in document["databases"].items():
        label = Path(database["file"]).name
        tables = _tables(name, database, restored)
        differences = backup_manifest.table_differences(database["tables"], tables)
        report.problems += [f"{label}: {d}" for d in differences]
        report.tables += len(tables)
        report.rows += sum(t.rows for t in tables.values())
        report.tables_equal_to_manifest += len(tables) - len(differences)
        now = _tables(name, database, source)
        report.tables_changed_in_source_since += [
            f"{label}:{table}" for table, stats in tables.items() if now.get(table) != stats
        ]


def _tables(name: str, database: dict[str, Any], where: backup.Target) -> dict[str, backup_manifest.TableStats]:
    """The tables of one backed-up database as they are now in `where` ({} when it is not there)."""
    if database["kind"] == "postgresql":
        url = where.postgres.get(name)
        return backup_manifest.postgres_tables(url) if url else {}
    path = where.var_dir / Path(database["file"]).name
    return backup_manifest.sqlite_tables(path) if path.exists() else {}


def _database_urls(var_dir: Path, postgres: dict[str, str]) -> list[str]:
    return [db.sqlite_url(path) for path in sorted(var_dir.glob("*.db"))] + sorted(set(postgres.values()))


def _pending_outbox(url: str) -> int:
    engine = sa.create_engine(db.normalise_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("outbox"):
                return 0
            count = connection.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar()
            return int(count or 0)
    finally:
        engine.dispose()


def _run_restored(var_dir: Path, postgres: dict[str, str], report: DrillReport) -> None:
    resources = spec.with_free_ports(spec.with_databases(spec.load(), postgres))
    mesh = Mesh(resources=resources, var_dir=var_dir)
    started = time.monotonic()
    try:
        mesh.start(timeout=180)
        report.mesh_start_seconds = round(time.monotonic() - started, 3)
        nats_url = f"nats://127.0.0.1:{mesh.resource('nats').port}"
        report.pending_consumer_messages_at_start = asyncio.run(_consumer_backlog(nats_url))
        started = time.monotonic()
        if not _drained(_database_urls(var_dir, postgres), nats_url, deadline=started + DRAIN_SECONDS):
            report.problems.append(f"pending events not delivered within {DRAIN_SECONDS:.0f}s of the restored start")
        report.drain_seconds = round(time.monotonic() - started, 3)
    except Exception as exc:  # the drill reports every failure instead of stopping at the first
        report.problems.append(f"restored mesh: {exc}")
    finally:
        mesh.stop()


def _drained(urls: list[str], nats_url: str, *, deadline: float) -> bool:
    while time.monotonic() < deadline:
        outbox = sum(_pending_outbox(url) for url in urls)
        if outbox == 0 and asyncio.run(_consumer_backlog(nats_url)) == 0:
            return True
        time.sleep(0.5)  # polling interval of a bounded wait for the restored mesh's consumers
    return False


async def _consumer_backlog(url: str) -> int:
    """Messages not yet acknowledged by the events stream's durable consumers."""
    async with backup_streams.jetstream(url) as js:
        infos = await js.consumers_info(backup_streams.STREAMS[0])
        return sum(int(info.num_pending or 0) + int(info.num_ack_pending or 0) for info in infos)
