"""Data-subject requests on the whole mesh (`teei up`, mTLS, every service), driven by `teei privacy`: one
person with 1,000 Kintell sessions and a Buddy match naming them is exported (one bundle, every service's
section, digests that match) and erased (every service confirms; nothing of them is left, another person's
sessions stay; `privacy.subject.erased` is published). After the erasure no message still stored in the
events and dead-letter streams names their e-mail or names (raw bytes and decoded envelopes), and neither do
the raw bytes of any service's database files (with write-ahead logs and shared memory) under the mesh's
var directory. The person's imports have no rejected rows and their match no location: those are kept
apart (quarantined rows, match locations) and are not what this test is about.
The times of both are printed: they are the figures docs/privacy/GDPR_Compliance.md quotes."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from google.protobuf.message import DecodeError
from nats.js import errors as js_errors

from services.cli.spec import REPO_ROOT
from services.gateway.dsr import bundle
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
SESSIONS = 1000
PERSON, OTHER = "dana@example.org", "eli@example.org"
GIVEN, FAMILY = "Danika", "Vexholm"
OTHER_SESSION = "eli-session-1"  # plain (an id of the source): what shows the scans read the bytes
# Every service that keeps a database under the mesh's var directory.
DATABASES = ("buddy", "gateway", "kintell", "profile", "q2q", "safety", "upskilling")


@pytest.fixture(scope="module")
def edge(mesh: MeshProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=120.0) as client:
        yield client


def _import(edge: httpx.Client) -> None:
    rows = [f"s-{i},{PERSON},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2," for i in range(SESSIONS)]
    rows.append(f"{OTHER_SESSION},{OTHER},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2,")
    body = "\r\n".join([KINTELL_HEADER, *rows]) + "\r\n"
    response = edge.post("/v1/kintell/imports", content=body.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["batch"]["rows_stored"] == SESSIONS + 1
    assert response.json()["batch"].get("rows_quarantined", 0) == 0
    match = f"dm-1,{PERSON},db-1,{GIVEN},{FAMILY},ben.buddy@example.org,db-2,Ben,,2026-02-01T09:00:00Z,active,,ar,,"
    matches = f"{MATCH_HEADER}\r\n{match}\r\n".encode()
    response = edge.post("/v1/buddy/imports/matches", content=matches, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["batch"]["rows_stored"] == 1
    assert response.json()["batch"].get("rows_quarantined", 0) == 0


def _settled_profile(edge: httpx.Client) -> dict[str, Any]:
    """Dana's profile once the 1,000 sessions' events reached it (the mesh is quiet again)."""
    deadline = time.monotonic() + 300
    while True:
        found = edge.get("/v1/profiles", params={"email": PERSON}).json()["profiles"]
        if found and int(found[0]["counters"].get("language_sessions_completed", 0)) == SESSIONS:
            profile: dict[str, Any] = found[0]
            return profile
        assert time.monotonic() < deadline, "the sessions' events did not reach the profile in time"
        time.sleep(0.25)  # polling interval of a bounded wait for asynchronous consumers


def _workflow_seconds(request: dict[str, Any]) -> float:
    """From receipt to completion, as the request records it."""
    created, completed = (
        datetime.fromisoformat(request[k].replace("Z", "+00:00")) for k in ("create_time", "complete_time")
    )
    return (completed - created).total_seconds()


def _erasure_published(mesh: MeshProcess) -> bool:
    """Whether the gateway's relay published `privacy.subject.erased` to JetStream (its outbox row is marked)."""
    with sqlite3.connect(mesh.var_dir / "gateway.db") as connection:
        rows = connection.execute(
            "SELECT published_at FROM outbox WHERE event_type = 'privacy.subject.erased'"
        ).fetchall()
    return len(rows) == 1 and rows[0][0] is not None


def _in_files(var_dir: Path, stem: str, needle: str) -> list[str]:
    """The files of a database (with its write-ahead log) whose raw bytes hold `needle`."""
    return [p.name for p in sorted(var_dir.glob(f"{stem}.db*")) if needle.encode() in p.read_bytes().lower()]


def _needles(*more: str) -> list[bytes]:
    """What names the person: their e-mail and names, and `more` (lower-case)."""
    return [n.lower().encode() for n in (PERSON, GIVEN, FAMILY, *more)]


def _database_files(var_dir: Path) -> list[Path]:
    """Every database file of the mesh (`*.db`, `*.db-wal`, `*.db-shm`, the key stores' too)."""
    return sorted(p for p in var_dir.rglob("*.db*") if p.is_file() and p.name.endswith((".db", ".db-wal", ".db-shm")))


def _files_naming_the_person(var_dir: Path) -> list[str]:
    """The database files whose raw bytes hold the person's e-mail or names."""
    needles = _needles()
    found = []
    for path in _database_files(var_dir):
        data = path.read_bytes().lower()
        found += [f"{path.relative_to(var_dir)}: {n.decode()}" for n in needles if n in data]
    return found


async def _stored_messages(nats_url: str) -> dict[str, list[bytes]]:
    """Every message still stored in the events and dead-letter streams, read through JetStream."""
    connection = await nats.connect(nats_url, connect_timeout=5)
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


def _envelope(message: bytes) -> envelope_pb2.Envelope | None:
    envelope = envelope_pb2.Envelope()
    try:
        envelope.ParseFromString(message)
    except DecodeError:
        return None
    return envelope


def _events_naming_profile(messages: list[bytes], profile_id: str) -> list[str]:
    """The types of the company's events naming the profile id (where personal fields are sealed, the plain id
    the erasure of the streams matches), but the announcement of the erasure itself, published after it."""
    found = []
    for envelope in filter(None, map(_envelope, messages)):
        named = profile_id.encode() in envelope.subject.encode() + b"\0" + envelope.data.value
        if envelope.tenant == "acme" and named and envelope.type != "privacy.subject.erased":
            found.append(envelope.type)
    return found


def _naming_the_person(message: bytes, *more: str) -> bool:
    """Whether a stored message names the person (or `more`): in its raw bytes, or in its envelope's subject or
    payload."""
    needles = _needles(*more)
    if any(n in message.lower() for n in needles):
        return True
    envelope = envelope_pb2.Envelope()
    try:
        envelope.ParseFromString(message)
    except DecodeError:
        return False
    decoded = (envelope.subject.encode() + b"\0" + envelope.data.value).lower()
    return any(n in decoded for n in needles)


def _teei(mesh: MeshProcess, *args: str) -> tuple[int, list[Any]]:
    """Runs `teei privacy ...` against the mesh's edge as acme's company admin; its exit code and JSON lines."""
    env = {**os.environ, "TEEI_TOKEN": mint(mesh.var_dir, "acme", subject="dpo-acme")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "privacy", "--edge", mesh.edge_url, *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert not done.stderr.strip() or done.returncode == 0, done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _nats_url(mesh: MeshProcess) -> str:
    return f"nats://127.0.0.1:{mesh.ports['nats']}"


def _sessions(edge: httpx.Client, email: str) -> list[dict[str, Any]]:
    answer = edge.post("/v1/kintell/privacy:export", json={"subject": {"email": email}})
    assert answer.status_code == 200, answer.text
    sessions: list[dict[str, Any]] = answer.json()["records"].get("kintell_sessions", [])
    return sessions


def test_one_person_with_a_thousand_sessions_is_exported_then_erased(
    mesh: MeshProcess, edge: httpx.Client, tmp_path: Path
) -> None:
    _import(edge)
    profile = _settled_profile(edge)
    assert _in_files(mesh.var_dir, "profile", PERSON) == []  # sealed at rest (docs/privacy/encryption.md)
    assert _in_files(mesh.var_dir, "kintell", OTHER_SESSION) != []  # the scan can fail: it reads the raw bytes
    out = tmp_path / "bundle.json"
    started = time.monotonic()
    code, [exported] = _teei(mesh, "export", "--email", PERSON, "--reason", "DSR-1", "--wait", "300", "--out", str(out))
    export_seconds = time.monotonic() - started
    assert code == 0
    assert exported["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", exported
    written = json.loads(out.read_text())
    assert bundle.verify(written) == []
    assert sorted(written["sections"]) == ["buddy", "gateway", "kintell", "profile", "q2q", "safety", "upskilling"]
    assert len(written["sections"]["kintell"]["kintell_sessions"]) == SESSIONS
    assert OTHER not in out.read_text()
    assert [p["profile_id"] for p in written["sections"]["profile"]["profiles"]] == [profile["profile_id"]]
    assert _in_files(mesh.var_dir, "gateway", PERSON) == []  # the request and its bundle are sealed at rest
    before = asyncio.run(_stored_messages(_nats_url(mesh)))
    # The scan can fail: their events are there (named by e-mail, or by profile id where personal fields are sealed).
    assert [m for m in before[STREAM] if _naming_the_person(m, profile["profile_id"])] != []

    started = time.monotonic()
    code, [erased] = _teei(mesh, "erase", "--email", PERSON, "--reason", "DSR-1", "--yes", "--wait", "300")
    erase_seconds = time.monotonic() - started
    assert code == 0
    assert erased["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", erased
    parts = {o["service"]: o for o in erased["outcomes"]}
    assert len(parts) == 7
    assert all(o["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED" for o in parts.values())
    assert int(parts["kintell"]["records_found"]) >= SESSIONS
    assert _sessions(edge, PERSON) == []
    assert len(_sessions(edge, OTHER)) == 1

    code, listed = _teei(mesh, "status")
    assert code == 0
    assert [r["request_id"] for r in listed] == [erased["request_id"], exported["request_id"]]
    assert edge.get("/v1/profiles", params={"email": PERSON}).json()["profiles"] == []
    deadline = time.monotonic() + 60
    while not _erasure_published(mesh):
        assert time.monotonic() < deadline, "privacy.subject.erased was not published"
        time.sleep(0.25)  # polling interval of a bounded wait for the outbox relay

    scanned = {p.name for p in _database_files(mesh.var_dir)}
    assert {f"{name}.db" for name in DATABASES} <= scanned, scanned
    assert _files_naming_the_person(mesh.var_dir) == []
    after = asyncio.run(_stored_messages(_nats_url(mesh)))
    assert any(OTHER_SESSION.encode() in m for m in after[STREAM])  # the control: other people's events stay
    assert [p for p in _database_files(mesh.var_dir) if OTHER_SESSION.encode() in p.read_bytes()] != []
    assert {stream: [m for m in messages if _naming_the_person(m)] for stream, messages in after.items()} == {
        STREAM: [],
        DLQ_STREAM: [],
    }
    named = {stream: _events_naming_profile(messages, profile["profile_id"]) for stream, messages in after.items()}
    assert named == {STREAM: [], DLQ_STREAM: []}
    print(
        f"privacy: {SESSIONS} sessions: export {_workflow_seconds(exported):.2f}s in the gateway, "
        f"{export_seconds:.2f}s through `teei privacy`; erasure {_workflow_seconds(erased):.2f}s in the gateway, "
        f"{erase_seconds:.2f}s through `teei privacy`"
    )
