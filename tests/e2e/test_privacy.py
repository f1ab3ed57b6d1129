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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.dsr import bundle
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM
from tests.e2e.conftest import MeshProcess
from tests.e2e.privacy_support import (
    DATABASES,
    KINTELL_HEADER,
    MATCH_HEADER,
    database_files,
    events_naming_profile,
    files_naming,
    in_files,
    lowered,
    names_any,
    nats_url,
    post_csv,
    stored_messages,
    teei_privacy,
    wait_erasure_published,
    workflow_seconds,
)

# The module's one test also carries the mesh's start and stop, and its own bounded wait for the sessions' events
# alone may take 300 s on a loaded machine: the default 300 s per test would cut it short.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
SESSIONS = 1000
PERSON, OTHER = "dana@example.org", "eli@example.org"
GIVEN, FAMILY = "Danika", "Vexholm"
OTHER_SESSION = "eli-session-1"  # plain (an id of the source): what shows the scans read the bytes
NEEDLES = lowered(PERSON, GIVEN, FAMILY)


@pytest.fixture(scope="module")
def edge(mesh: MeshProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=120.0) as client:
        yield client


def _import(edge: httpx.Client) -> None:
    rows = [f"s-{i},{PERSON},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2," for i in range(SESSIONS)]
    rows.append(f"{OTHER_SESSION},{OTHER},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2,")
    batch = post_csv(edge, "/v1/kintell/imports", KINTELL_HEADER, rows)
    assert batch["rows_stored"] == SESSIONS + 1
    assert batch.get("rows_quarantined", 0) == 0
    match = f"dm-1,{PERSON},db-1,{GIVEN},{FAMILY},ben.buddy@example.org,db-2,Ben,,2026-02-01T09:00:00Z,active,,ar,,"
    batch = post_csv(edge, "/v1/buddy/imports/matches", MATCH_HEADER, [match])
    assert batch["rows_stored"] == 1
    assert batch.get("rows_quarantined", 0) == 0


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
    assert in_files(mesh.var_dir, "profile", PERSON) == []  # sealed at rest (docs/privacy/encryption.md)
    assert in_files(mesh.var_dir, "kintell", OTHER_SESSION) != []  # the scan can fail: it reads the raw bytes
    out = tmp_path / "bundle.json"
    started = time.monotonic()
    code, [exported] = teei_privacy(
        mesh, "export", "--email", PERSON, "--reason", "DSR-1", "--wait", "300", "--out", str(out)
    )
    export_seconds = time.monotonic() - started
    assert code == 0
    assert exported["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", exported
    written = json.loads(out.read_text())
    assert bundle.verify(written) == []
    assert sorted(written["sections"]) == ["buddy", "gateway", "kintell", "profile", "q2q", "safety", "upskilling"]
    assert len(written["sections"]["kintell"]["kintell_sessions"]) == SESSIONS
    assert OTHER not in out.read_text()
    assert [p["profile_id"] for p in written["sections"]["profile"]["profiles"]] == [profile["profile_id"]]
    assert in_files(mesh.var_dir, "gateway", PERSON) == []  # the request and its bundle are sealed at rest
    before = asyncio.run(stored_messages(nats_url(mesh)))
    # The scan can fail: their events are there (named by e-mail, or by profile id where personal fields are sealed).
    assert [m for m in before[STREAM] if names_any(m, [*NEEDLES, *lowered(profile["profile_id"])])] != []

    started = time.monotonic()
    code, [erased] = teei_privacy(mesh, "erase", "--email", PERSON, "--reason", "DSR-1", "--yes", "--wait", "300")
    erase_seconds = time.monotonic() - started
    assert code == 0
    assert erased["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", erased
    parts = {o["service"]: o for o in erased["outcomes"]}
    assert len(parts) == 7
    assert all(o["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED" for o in parts.values())
    assert int(parts["kintell"]["records_found"]) >= SESSIONS
    assert _sessions(edge, PERSON) == []
    assert len(_sessions(edge, OTHER)) == 1

    code, listed = teei_privacy(mesh, "status")
    assert code == 0
    assert [r["request_id"] for r in listed] == [erased["request_id"], exported["request_id"]]
    assert edge.get("/v1/profiles", params={"email": PERSON}).json()["profiles"] == []
    wait_erasure_published(mesh)

    scanned = {p.name for p in database_files(mesh.var_dir)}
    assert {f"{name}.db" for name in DATABASES} <= scanned, scanned
    assert files_naming(mesh.var_dir, NEEDLES) == []
    after = asyncio.run(stored_messages(nats_url(mesh)))
    assert any(OTHER_SESSION.encode() in m for m in after[STREAM])  # the control: other people's events stay
    assert [p for p in database_files(mesh.var_dir) if OTHER_SESSION.encode() in p.read_bytes()] != []
    assert {stream: [m for m in messages if names_any(m, NEEDLES)] for stream, messages in after.items()} == {
        STREAM: [],
        DLQ_STREAM: [],
    }
    named = {
        stream: events_naming_profile(messages, "acme", profile["profile_id"]) for stream, messages in after.items()
    }
    assert named == {STREAM: [], DLQ_STREAM: []}
    print(
        f"privacy: {SESSIONS} sessions: export {workflow_seconds(exported):.2f}s in the gateway, "
        f"{export_seconds:.2f}s through `teei privacy`; erasure {workflow_seconds(erased):.2f}s in the gateway, "
        f"{erase_seconds:.2f}s through `teei privacy`"
    )
