"""The restore drill on SQLite: a backup taken while imports run restores into a scratch folder, every
table equals the manifest, and a second mesh started on it delivers the events that were pending at the
backup exactly once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.cli import backup_drill, spec
from services.cli.launcher import Mesh
from services.kit import identity
from services.kit.persistence import backup
from tests.e2e.conftest import auth

pytestmark = pytest.mark.e2e
PASSPHRASE = b"drill passphrase for tests"
HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    running = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=tmp_path / "source" / "var")
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


def _sessions_counted(var_dir: Path, email: str) -> int:
    profile_id = identity.profile_id_for_email("acme", email)
    connection = sqlite3.connect(f"file:{var_dir / 'profile.db'}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT name, value FROM profile_counters WHERE profile_id = ? AND name LIKE '%session%'", (profile_id,)
        ).fetchall()
    finally:
        connection.close()
    return sum(int(value) for _, value in rows)


def test_drill_restores_equal_tables_and_delivers_pending_events_exactly_once(mesh: Mesh, tmp_path: Path) -> None:
    stop = threading.Event()
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, "acme"), timeout=120.0) as edge:
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
            source = backup.Source(mesh.var_dir, nats, None, spec.free_port())
            report = backup_drill.drill(source, tmp_path / "backups", tmp_path / "scratch" / "var", PASSPHRASE)
        finally:
            stop.set()
            importer.join(timeout=120)
    assert report.problems == []
    assert report.tables > 50
    assert report.tables_equal_to_manifest == report.tables
    assert _sessions_counted(tmp_path / "scratch" / "var", "pending@example.org") == 40
