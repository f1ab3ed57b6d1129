"""What the whole-mesh privacy tests share: `teei privacy` as an operator runs it, bounded waits, the stored
messages of the event streams, and scans of the raw bytes of the mesh's database files and messages for what
names a person."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
from google.protobuf.message import DecodeError
from nats.js import errors as js_errors

from services.cli.spec import REPO_ROOT
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM
from teei.events.v1 import envelope_pb2
from tests.e2e.conftest import MeshProcess, mint

KINTELL_HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,duration_minutes,rating,"
    "feedback_text,language_level,topics"
)
MATCH_HEADER = (
    "match_id,participant_email,participant_external_id,participant_given_name,participant_family_name,"
    "buddy_email,buddy_external_id,buddy_given_name,buddy_family_name,matched_at,status,ended_at,"
    "languages,interests,location"
)
# Every service that keeps a database under the mesh's var directory.
DATABASES = ("buddy", "gateway", "kintell", "profile", "q2q", "safety", "upskilling")
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, what: str = "the condition") -> T:
    """Polls `probe` until it returns something truthy: the mesh's consumers are asynchronous."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} was not reached within {timeout}s"
        time.sleep(0.25)  # polling interval of a bounded wait for asynchronous consumers


def post_csv(edge: httpx.Client, path: str, header: str, rows: Iterable[str]) -> dict[str, Any]:
    """Imports a CSV file through the edge; the batch it reports."""
    body = "\r\n".join([header, *rows]) + "\r\n"
    response = edge.post(path, content=body.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()["batch"]
    return batch


def teei_privacy(mesh: MeshProcess, *args: str, tenant: str = "acme") -> tuple[int, list[Any]]:
    """Runs `teei privacy ...` against the mesh's edge as `tenant`'s company admin; its exit code and JSON lines."""
    env = {**os.environ, "TEEI_TOKEN": mint(mesh.var_dir, tenant, subject=f"dpo-{tenant}")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "privacy", "--edge", mesh.edge_url, *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert not done.stderr.strip() or done.returncode == 0, done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def workflow_seconds(request: dict[str, Any]) -> float:
    """From receipt to completion, as the request records it."""
    created, completed = (
        datetime.fromisoformat(request[k].replace("Z", "+00:00")) for k in ("create_time", "complete_time")
    )
    return (completed - created).total_seconds()


def erasure_published(mesh: MeshProcess) -> bool:
    """Whether the gateway's relay published `privacy.subject.erased` to JetStream (its outbox row is marked)."""
    with sqlite3.connect(mesh.var_dir / "gateway.db") as connection:
        rows = connection.execute(
            "SELECT published_at FROM outbox WHERE event_type = 'privacy.subject.erased'"
        ).fetchall()
    return len(rows) == 1 and rows[0][0] is not None


def wait_erasure_published(mesh: MeshProcess) -> None:
    """Waits (bounded) until the gateway's relay published `privacy.subject.erased`."""
    eventually(lambda: erasure_published(mesh), what="the publication of privacy.subject.erased")


def nats_url(mesh: MeshProcess) -> str:
    """The mesh's NATS server."""
    return f"nats://127.0.0.1:{mesh.ports['nats']}"


def lowered(*values: str) -> list[bytes]:
    """What names a person, as the byte strings the scans look for (lower-case)."""
    return [v.lower().encode() for v in values]


def in_files(var_dir: Path, stem: str, needle: str) -> list[str]:
    """The files of a database (with its write-ahead log) whose raw bytes hold `needle`."""
    return [p.name for p in sorted(var_dir.glob(f"{stem}.db*")) if needle.encode() in p.read_bytes().lower()]


def database_files(var_dir: Path) -> list[Path]:
    """Every database file of the mesh (`*.db`, `*.db-wal`, `*.db-shm`, the key stores' too)."""
    return sorted(p for p in var_dir.rglob("*.db*") if p.is_file() and p.name.endswith((".db", ".db-wal", ".db-shm")))


def files_naming(var_dir: Path, needles: list[bytes]) -> list[str]:
    """The database files whose raw bytes hold one of `needles` (lower-case), each with the needle found."""
    found = []
    for path in database_files(var_dir):
        data = path.read_bytes().lower()
        found += [f"{path.relative_to(var_dir)}: {n.decode()}" for n in needles if n in data]
    return found


async def stored_messages(url: str) -> dict[str, list[bytes]]:
    """Every message still stored in the events and dead-letter streams, read through JetStream."""
    connection = await nats.connect(url, connect_timeout=5)
    try:
        js = connection.jetstream()
        stored: dict[str, list[bytes]] = {}
        for stream in (STREAM, DLQ_STREAM):
            state = (await js.stream_info(stream)).state
            stored[stream] = []
            if not state.messages:
                continue
            for sequence in range(max(state.first_seq, 1), state.last_seq + 1):
                try:
                    stored[stream].append((await js.get_msg(stream, sequence)).data or b"")
                except js_errors.NotFoundError:
                    continue  # erased, or removed by retention
        return stored
    finally:
        await connection.close()


def envelope_of(message: bytes) -> envelope_pb2.Envelope | None:
    """The event envelope a stored message carries (None when it is not one)."""
    envelope = envelope_pb2.Envelope()
    try:
        envelope.ParseFromString(message)
    except DecodeError:
        return None
    return envelope


def names_any(message: bytes, needles: list[bytes]) -> bool:
    """Whether a stored message holds one of `needles` (lower-case): in its raw bytes, or in its envelope's
    subject or payload."""
    if any(n in message.lower() for n in needles):
        return True
    envelope = envelope_of(message)
    if envelope is None:
        return False
    decoded = (envelope.subject.encode() + b"\0" + envelope.data.value).lower()
    return any(n in decoded for n in needles)


def events_naming_profile(messages: list[bytes], tenant: str, profile_id: str) -> list[str]:
    """The types of `tenant`'s events naming the profile id (where personal fields are sealed, the plain id the
    erasure of the streams matches), but the announcement of the erasure itself, published after it."""
    found = []
    for envelope in filter(None, map(envelope_of, messages)):
        named = profile_id.encode() in envelope.subject.encode() + b"\0" + envelope.data.value
        if envelope.tenant == tenant and named and envelope.type != "privacy.subject.erased":
            found.append(envelope.type)
    return found
