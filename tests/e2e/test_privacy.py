"""Data-subject requests on the whole mesh (`teei up`, mTLS, every service), driven by `teei privacy`: one
person with 1,000 Kintell sessions is exported (one bundle, every service's section, digests that
match) and erased (every service confirms; nothing of them is left, another person's sessions stay;
`privacy.subject.erased` is published).
The times of both are printed: they are the figures docs/privacy/GDPR_Compliance.md quotes."""

from __future__ import annotations

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
import pytest

from services.cli.spec import REPO_ROOT
from services.gateway.dsr import bundle
from tests.e2e.conftest import MeshProcess, mint

KINTELL_HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,duration_minutes,rating,"
    "feedback_text,language_level,topics"
)
SESSIONS = 1000
PERSON, OTHER = "dana@example.org", "eli@example.org"


@pytest.fixture(scope="module")
def edge(mesh: MeshProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=120.0) as client:
        yield client


def _import(edge: httpx.Client) -> None:
    rows = [f"s-{i},{PERSON},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2," for i in range(SESSIONS)]
    rows.append(f"o-1,{OTHER},vol@corp.com,2026-05-01,2026-05-01T10:00:00Z,45,0.8,,a2,")
    body = "\r\n".join([KINTELL_HEADER, *rows]) + "\r\n"
    response = edge.post("/v1/kintell/imports", content=body.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["batch"]["rows_stored"] == SESSIONS + 1


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


def _teei(mesh: MeshProcess, *args: str) -> tuple[int, list[Any]]:
    """Runs `teei privacy ...` against the mesh's edge as acme's company admin; its exit code and JSON lines."""
    env = {**os.environ, "TEEI_TOKEN": mint(mesh.var_dir, "acme", subject="dpo-acme")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "privacy", "--edge", mesh.edge_url, *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert not done.stderr.strip() or done.returncode == 0, done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


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
    assert _in_files(mesh.var_dir, "kintell", PERSON) != []  # the scan can fail: kintell's outbox envelopes name them
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
    print(
        f"privacy: {SESSIONS} sessions: export {_workflow_seconds(exported):.2f}s in the gateway, "
        f"{export_seconds:.2f}s through `teei privacy`; erasure {_workflow_seconds(erased):.2f}s in the gateway, "
        f"{erase_seconds:.2f}s through `teei privacy`"
    )
