"""The restore drill on SQLite and on PostgreSQL (a database per service): a backup taken while imports run
restores into a scratch folder and empty databases, every table equals the manifest, and a second mesh
started on them delivers the events that were pending at the backup exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from services.cli import backup_drill, spec
from services.cli.launcher import Mesh
from services.kit import identity
from services.kit.persistence import backup, db
from tests import postgres
from tests.e2e.conftest import auth

pytestmark = pytest.mark.e2e
PASSPHRASE = b"drill passphrase for tests"
HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)


@dataclass(frozen=True)
class Databases:
    """Where the source mesh keeps its data and where the drill restores it: PostgreSQL URLs by service
    (both empty: SQLite files under the var folders)."""

    source: dict[str, str]
    restored: dict[str, str]

    def url(self, which: str, var_dir: Path, service: str) -> str:
        """The URL of `service`'s database in the source or the restored mesh."""
        return getattr(self, which).get(service) or db.sqlite_url(var_dir / f"{service}.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest) -> Iterator[Databases]:
    if request.param == "sqlite":
        yield Databases({}, {})
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    services, stamp = spec.service_names(spec.load()), uuid.uuid4().hex[:8]
    names = {f"{side}:{s}": f"teei_drill_{stamp}_{side}_{s}" for side in ("source", "restored") for s in services}
    with postgres.databases(admin_url, names) as urls:
        yield Databases({s: urls[f"source:{s}"] for s in services}, {s: urls[f"restored:{s}"] for s in services})


@pytest.fixture
def mesh(tmp_path: Path, databases: Databases) -> Iterator[Mesh]:
    resources = spec.with_free_ports(spec.with_databases(spec.load(), databases.source))
    running = Mesh(resources=resources, var_dir=tmp_path / "source" / "var")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _import(edge: httpx.Client, tag: str, email: str, count: int) -> None:
    rows = [f"{tag}-{i},{email},vera@example.org,2026-05-01,2026-05-01T10:00:00Z,45,,,," for i in range(count)]
    response = edge.post(
        "/v1/kintell/imports",
        content=("\r\n".join([HEADER, *rows]) + "\r\n").encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text


def _sessions_counted(url: str, email: str) -> int:
    profile_id = identity.profile_id_for_email("acme", email)
    engine = sa.create_engine(db.normalise_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            values = connection.execute(
                sa.text("SELECT value FROM profile_counters WHERE profile_id = :id AND name LIKE '%session%'"),
                {"id": profile_id},
            ).scalars()
            return sum(int(value) for value in values)
    finally:
        engine.dispose()


def test_drill_restores_equal_tables_and_delivers_pending_events_exactly_once(
    mesh: Mesh, databases: Databases, tmp_path: Path
) -> None:
    stop = threading.Event()
    gateway_url = databases.url("source", mesh.var_dir, "gateway")
    headers = auth(mesh.var_dir, "acme", database_url=gateway_url)
    with httpx.Client(base_url=mesh.edge_url, headers=headers, timeout=120.0) as edge:
        mesh.stop_resource("profile")  # its consumers' events wait in JetStream: pending at the backup
        _import(edge, "pending", "pending@example.org", 40)

        def keep_importing() -> None:
            n = 0
            while not stop.is_set():
                _import(edge, f"busy{n}", f"busy{n}@example.org", 20)
                n += 1

        importer = threading.Thread(target=keep_importing, daemon=True)
        importer.start()
        try:
            nats = f"nats://127.0.0.1:{mesh.resource('nats').port}"
            source = backup.Source(mesh.var_dir, nats, databases.source, spec.free_port())
            scratch = tmp_path / "scratch" / "var"
            report = backup_drill.drill(source, tmp_path / "backups", scratch, PASSPHRASE, databases.restored)
        finally:
            stop.set()
            importer.join(timeout=120)
    assert report.problems == []
    kinds = {name: d["kind"] for name, d in backup.read_manifest(Path(report.backup))["databases"].items()}
    assert kinds == {s: "postgresql" for s in databases.source} or not databases.source
    assert report.tables > 50
    assert report.tables_equal_to_manifest == report.tables
    assert _sessions_counted(databases.url("restored", scratch, "profile"), "pending@example.org") == 40
