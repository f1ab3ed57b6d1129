"""One person's whole journey through the mesh and out of it, as an operator drives it (the edge's REST API,
`teei backup`, `teei privacy`): P is in Kintell (sessions, one text held by Safety, one scored by Q2Q, a
rejected row naming P then Q), Buddy (a match with Q, signed feedback) and Upskilling (a signed completion);
Q shares acme with P, and P's e-mail also belongs to someone in globex. A backup is taken, P is exported
(every section that holds P; nothing of globex's P; nothing of Q, whose side of shared records is withheld) and
erased. Afterwards no service returns P, Q and globex's P are intact, no database file or stored message
names P, and the backup taken before the erasure no longer opens P's sealed fields (crypto-shredding) while
it still opens Q's. The times of the export and the erasure are printed."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli.spec import REPO_ROOT
from services.cli.webhooks import provision
from services.gateway.dsr import bundle
from services.kit.identity import profile_id_for_email
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM
from services.kit.persistence.subjects import WITHHELD
from services.kit.security import pii
from services.kit.security.webhooks import signed_headers
from tests.e2e.conftest import MeshProcess
from tests.e2e.privacy_support import (
    KINTELL_HEADER,
    MATCH_HEADER,
    events_naming_profile,
    eventually,
    files_naming,
    lowered,
    names_any,
    nats_url,
    post_csv,
    stored_messages,
    teei_privacy,
    wait_erasure_published,
    workflow_seconds,
)

pytestmark = pytest.mark.e2e
# P's e-mail names neither of P's names, so the scans look for each on its own.
P, P_GIVEN, P_FAMILY = "p7.subject@example.org", "Ysolde", "Brannagh"
Q, Q_GIVEN, Q_FAMILY = "q4.subject@example.org", "Tamsin", "Orrow"
OTHER_COMPANY = "globex"
HELD = "You are a worthless idiot and I will hurt you"  # what Safety holds for review
SCORED = "I feel much more confident speaking now, and I made new friends in the group"
Q_TEXT = "I practised interview questions and updated my CV"
P_NEEDLES = lowered(P, P_GIVEN, P_FAMILY)
SECTIONS = ("buddy", "kintell", "profile", "q2q", "safety", "upskilling")
PASSPHRASE = "journey backup passphrase"
# Tables of P's export with the number of rows each holds, and tables holding at least one row.
EXPORTED = {
    "buddy.buddy_matches": 1,
    "kintell.kintell_sessions": 2,
    "kintell.quarantined_rows": 1,
    "profile.profiles": 1,
    "safety.safety_reviews": 1,
    "upskilling.upskilling_progress": 1,
}
EXPORTED_SOME = ("buddy.buddy_feedback", "profile.profile_milestones", "q2q.q2q_scores", "safety.safety_flags")
EXPORTS = {service: f"/v1/{'profiles' if service == 'profile' else service}/privacy:export" for service in SECTIONS}


@dataclass(frozen=True)
class Journey:
    """What the journey left to check: the export, the erasure and the backup taken before it."""

    exported: dict[str, Any]
    written: dict[str, Any]
    erased: dict[str, Any]
    backup: Path
    rejected_batch: str
    opened_before: dict[str, str]
    plain_before: list[str]


def _client(mesh: MeshProcess, tenant: str) -> httpx.Client:
    return httpx.Client(base_url=mesh.edge_url, headers=mesh.auth(tenant), timeout=120.0)


@pytest.fixture(scope="module")
def acme(mesh: MeshProcess) -> Iterator[httpx.Client]:
    with _client(mesh, "acme") as client:
        yield client


@pytest.fixture(scope="module")
def globex(mesh: MeshProcess) -> Iterator[httpx.Client]:
    with _client(mesh, OTHER_COMPANY) as client:
        yield client


def _session(session_id: str, participant: str, volunteer: str = "vol@corp.com", text: str = "") -> str:
    return f'{session_id},{participant},{volunteer},2026-03-01,2026-03-01T11:00:00Z,60,0.8,"{text}",B1,'


def _import_kintell(acme: httpx.Client, globex: httpx.Client) -> str:
    """P's and Q's sessions in acme, and a row naming P then Q that is rejected (rating 7); P's e-mail's session in
    globex. The acme batch's id."""
    rejected = f"j-bad,{P},{Q},2026-03-09,,,7,,,"
    rows = [_session("j-p1", P, text=HELD), _session("j-p2", P, text=SCORED), _session("j-q1", Q, text=Q_TEXT)]
    batch = post_csv(acme, "/v1/kintell/imports", KINTELL_HEADER, [*rows, rejected])
    assert (batch["rows_stored"], batch["rows_quarantined"]) == (3, 1)
    assert post_csv(globex, "/v1/kintell/imports", KINTELL_HEADER, [_session("g-p1", P)])["rows_stored"] == 1
    return str(batch["batch_id"])


def _deliver(mesh: MeshProcess, acme: httpx.Client, source: str, path: str, payload: dict[str, Any]) -> None:
    """A webhook signed with acme's secret for `source` (Standard Webhooks)."""
    raw = json.dumps(payload).encode()
    headers = {"content-type": "application/json", **signed_headers(provision(mesh.var_dir, "acme", source), raw)}
    response = acme.post(path, content=raw, headers=headers)
    assert response.status_code == 200, response.text


def _buddy_and_upskilling(mesh: MeshProcess, acme: httpx.Client) -> None:
    """A match of P with Q as buddy, P's feedback on it, and P's completed course."""
    match = f"jm-1,{P},jb-1,{P_GIVEN},{P_FAMILY},{Q},jb-2,{Q_GIVEN},{Q_FAMILY},2026-02-01T09:00:00Z,active,,ar,,"
    assert post_csv(acme, "/v1/buddy/imports/matches", MATCH_HEADER, [match])["rows_stored"] == 1
    feedback = {"feedback_id": "jf-1", "match_id": "jm-1", "author_email": P, "submitted_at": "2026-02-20T10:00:00Z"}
    text = "My buddy helped me feel welcome here and I am applying for jobs now"
    data = {**feedback, "rating": 0.9, "feedback_text": text}
    _deliver(mesh, acme, "buddy", "/v1/buddy/webhooks/feedback", {"delivery_id": "jd-1", "data": data})
    course = {
        "event_type": "course.completed",
        "event_id": "jec-1",
        "timestamp": "2026-04-01T10:00:00Z",
        "user": {"external_id": "ju-1", "email": P, "names": {"first": P_GIVEN, "last": P_FAMILY}},
        "course": {"id": "c-101", "name": "Project management"},
        "progress": {"status": "completed", "percent_complete": 100, "completed_at": "2026-04-01T09:00:00Z"},
    }
    _deliver(mesh, acme, "ecornell", "/v1/upskilling/webhooks/ecornell", course)


def _profile(client: httpx.Client, email: str) -> dict[str, Any] | None:
    response = client.get("/v1/profiles", params={"email": email})
    assert response.status_code == 200, response.text
    profiles: list[dict[str, Any]] = response.json()["profiles"]
    return profiles[0] if profiles else None


def _counted(client: httpx.Client, email: str, expected: dict[str, int]) -> dict[str, Any] | None:
    profile = _profile(client, email)
    counters = {k: int(v) for k, v in (profile or {}).get("counters", {}).items()}
    return profile if profile and all(counters.get(k) == v for k, v in expected.items()) else None


def _scores(client: httpx.Client, email: str) -> list[dict[str, Any]]:
    response = client.get("/v1/q2q/scores", params={"profile_id": profile_id_for_email("acme", email)})
    assert response.status_code == 200, response.text
    scores: list[dict[str, Any]] = response.json()["scores"]
    return scores


def _pending_reviews(acme: httpx.Client) -> list[dict[str, Any]]:
    reviews: list[dict[str, Any]] = acme.get("/v1/safety/reviews", params={"status": "pending"}).json()["reviews"]
    return reviews


def _settled(acme: httpx.Client, globex: httpx.Client) -> None:
    """Waits (bounded) until every event of the journey reached the profiles, Safety and Q2Q."""
    p_counts = {"language_sessions_completed": 2, "buddy_match_count": 1, "buddy_feedback_submitted": 1}
    eventually(lambda: _counted(acme, P, {**p_counts, "courses_completed": 1}), what="P's profile")
    eventually(lambda: _counted(acme, Q, {"language_sessions_completed": 1}), what="Q's profile")
    eventually(lambda: _counted(globex, P, {"language_sessions_completed": 1}), what="globex's P's profile")
    eventually(lambda: _pending_reviews(acme), what="the held text's review")
    eventually(lambda: len({s["source_text_id"] for s in _scores(acme, P)}) >= 2, what="P's two scored texts")
    eventually(lambda: _scores(acme, Q), what="Q's scored text")


def _backup(mesh: MeshProcess, destination: Path) -> Path:
    """`teei backup create` of the running mesh, as an operator runs it; the backup's folder."""
    env = {**os.environ, "TEEI_BACKUP_PASSPHRASE": PASSPHRASE}
    command = ["backup", "--var-dir", str(mesh.var_dir), "create", "--to", str(destination)]
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *command],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def _backup_rows(backup: Path, query: str, *, database: str = "profile") -> dict[str, str]:
    """The first two columns of `query`'s rows in the backup's copy of a service's SQLite database."""
    with closing(sqlite3.connect(backup / "databases" / f"{database}.db")) as connection:
        return {str(key): str(value) for key, value in connection.execute(query).fetchall()}


def _opened(cipher: pii.PiiCipher, stored: str, *, field: str, record: str) -> str:
    """A sealed value opened until it is plain: a value sealed in turn with several people's keys opens layer by
    layer, and SubjectErased when any of those keys is gone."""
    while pii.is_sealed(stored):
        stored = cipher.open(stored, field=field, record=record)
    return stored


def _opened_in_backup(mesh: MeshProcess, backup: Path, batch: str) -> dict[str, str]:
    """P's e-mail in the backup's profile.db and the rejected row in its kintell.db, opened with the live keys."""
    p_id = profile_id_for_email("acme", P)
    emails = _backup_rows(backup, f"SELECT profile_id, email FROM profiles WHERE profile_id = '{p_id}'")
    rows = _backup_rows(
        backup, f"SELECT batch_id, raw FROM quarantined_rows WHERE batch_id = '{batch}'", database="kintell"
    )
    with closing(pii.local(mesh.var_dir, "profile")) as profile, closing(pii.local(mesh.var_dir, "kintell")) as kintell:
        return {
            "profile": profile.open(emails[p_id], field="profiles.email", record=p_id),
            "quarantine": _opened(kintell, rows[batch], field="quarantined_rows.raw", record=batch),
        }


@pytest.fixture(scope="module")
def journey(
    mesh: MeshProcess, acme: httpx.Client, globex: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> Journey:
    rejected_batch = _import_kintell(acme, globex)
    _buddy_and_upskilling(mesh, acme)
    _settled(acme, globex)
    plain_before = files_naming(mesh.var_dir, [*P_NEEDLES, *lowered(Q, Q_GIVEN, Q_FAMILY, HELD, SCORED, Q_TEXT)])
    folder = tmp_path_factory.mktemp("journey")
    backup = _backup(mesh, folder / "backups")
    opened_before = _opened_in_backup(mesh, backup, rejected_batch)
    out, seconds = folder / "bundle.json", {}
    started = time.monotonic()
    code, [exported] = teei_privacy(
        mesh, "export", "--email", P, "--reason", "DSR-7", "--wait", "120", "--out", str(out)
    )
    seconds["export"] = time.monotonic() - started
    assert code == 0
    started = time.monotonic()
    code, [erased] = teei_privacy(mesh, "erase", "--email", P, "--reason", "DSR-7", "--yes", "--wait", "120")
    seconds["erase"] = time.monotonic() - started
    assert code == 0
    wait_erasure_published(mesh)
    print(
        f"privacy journey: export {workflow_seconds(exported):.2f}s in the gateway, {seconds['export']:.2f}s "
        f"through `teei privacy`; erasure {workflow_seconds(erased):.2f}s in the gateway, {seconds['erase']:.2f}s "
        "through `teei privacy`"
    )
    return Journey(exported, json.loads(out.read_text()), erased, backup, rejected_batch, opened_before, plain_before)


def _columns_naming(written: dict[str, Any], needles: list[bytes]) -> set[str]:
    """The columns (`service.table.column`) of an export bundle whose values hold one of `needles`."""
    return {
        f"{service}.{table}.{column}"
        for service, tables in written["sections"].items()
        for table, rows in tables.items()
        for row in rows
        for column, value in row.items()
        if any(n in json.dumps(value).lower().encode() for n in needles)
    }


def test_every_service_keeps_the_peoples_emails_names_and_texts_sealed(journey: Journey) -> None:
    """Once the journey's imports, webhooks, screening and scoring are applied (before any export or erasure), no
    database file of any service holds P's or Q's e-mail, names or texts in plain."""
    assert journey.plain_before == []


def test_the_export_holds_p_in_every_section_and_nothing_of_globex(journey: Journey) -> None:
    """Every service holding P has a section of P's records, each matching its SHA-256 in the manifest; nothing of
    the globex person with P's e-mail is in it."""
    assert journey.exported["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", journey.exported
    written = journey.written
    assert bundle.verify(written) == []
    assert written["manifest"]["subject"] == {"profile_id": profile_id_for_email("acme", P), "email": P}
    counts = {f"{s}.{t}": len(rows) for s, tables in written["sections"].items() for t, rows in tables.items()}
    assert {table: counts.get(table, 0) for table in EXPORTED} == EXPORTED
    assert [table for table in EXPORTED_SOME if not counts.get(table)] == []
    sections = written["sections"]
    sessions = sorted(sections["kintell"]["kintell_sessions"], key=lambda s: str(s["external_session_id"]))
    assert [(s["external_session_id"], s["feedback_text"]) for s in sessions] == [("j-p1", HELD), ("j-p2", SCORED)]
    assert [f["redacted_text"] for f in sections["safety"]["safety_flags"]] == [HELD]
    assert _columns_naming(written, lowered("g-p1", profile_id_for_email(OTHER_COMPANY, P))) == set()


def test_the_export_names_nothing_of_q_the_other_party_of_ps_shared_records(journey: Journey) -> None:
    """P's bundle names nothing of Q (e-mail, names, external ids, texts, profile id): Q's side of P's match and
    Q's cells of the rejected row naming both read as withheld (services/kit/persistence/subjects.py)."""
    q_needles = lowered(Q, Q_GIVEN, Q_FAMILY, "jb-2", "j-q1", Q_TEXT, profile_id_for_email("acme", Q))
    assert _columns_naming(journey.written, q_needles) == set()
    matches = journey.written["sections"]["buddy"]["buddy_matches"]
    assert WITHHELD in {m["buddy_email"] for m in matches}  # the control: Q's side is there, withheld


def test_the_erasure_completes_with_every_part_confirmed(journey: Journey) -> None:
    """`teei privacy erase --wait` returns once the request is completed: all seven parts confirmed."""
    erased = journey.erased
    assert erased["status"] == "PRIVACY_REQUEST_STATUS_COMPLETED", erased
    parts = {o["service"]: o["status"] for o in erased["outcomes"]}
    assert parts == dict.fromkeys((*SECTIONS, "gateway"), "PRIVACY_REQUEST_STATUS_COMPLETED")


def _held(client: httpx.Client, service: str, email: str) -> dict[str, list[dict[str, Any]]]:
    """What `service` returns of the person with `email` (its own export over REST), empty tables left out."""
    answer = client.post(EXPORTS[service], json={"subject": {"email": email}})
    assert answer.status_code == 200, answer.text
    return {table: rows for table, rows in answer.json().get("records", {}).items() if rows}


def test_no_service_returns_p_while_q_and_globexs_p_are_intact(
    journey: Journey, acme: httpx.Client, globex: httpx.Client
) -> None:
    """Every service's reads find nothing of P; Q keeps their session, their side of the match with P and their
    scores; the globex person with P's e-mail keeps their session and profile."""
    assert [service for service in SECTIONS if _held(acme, service, P)] == []
    assert _profile(acme, P) is None
    assert acme.get("/v1/upskilling/progress", params={"email": P}).json().get("progress", []) == []
    assert _scores(acme, P) == []
    assert _pending_reviews(acme) == []  # the one held text was P's
    assert _counted(acme, Q, {"language_sessions_completed": 1})
    assert [s["external_session_id"] for s in _held(acme, "kintell", Q)["kintell_sessions"]] == ["j-q1"]
    (match,) = _held(acme, "buddy", Q)["buddy_matches"]
    assert (match["external_id"], match["buddy_email"], match["buddy_given_name"]) == ("jm-1", Q, Q_GIVEN)
    assert [n for n in P_NEEDLES if n in json.dumps(match).lower().encode()] == []  # P's side of it is blank
    assert _scores(acme, Q) != []
    assert [s["external_session_id"] for s in _held(globex, "kintell", P)["kintell_sessions"]] == ["g-p1"]
    assert _counted(globex, P, {"language_sessions_completed": 1})


def test_no_database_file_or_stored_message_names_p(journey: Journey, mesh: MeshProcess) -> None:
    """No file of any service's database or key store holds P's e-mail or names (globex's P's rows hold the e-mail
    sealed), no stored event or dead letter names them, and no acme event names P's profile id but the
    announcement of the erasure."""
    assert files_naming(mesh.var_dir, P_NEEDLES) == []
    assert files_naming(mesh.var_dir, lowered("j-q1")) != []  # the control: the scan reads the raw bytes
    after = asyncio.run(stored_messages(nats_url(mesh)))
    assert {stream: [m for m in messages if names_any(m, P_NEEDLES)] for stream, messages in after.items()} == {
        STREAM: [],
        DLQ_STREAM: [],
    }
    p_id = profile_id_for_email("acme", P)
    assert {stream: events_naming_profile(messages, "acme", p_id) for stream, messages in after.items()} == {
        STREAM: [],
        DLQ_STREAM: [],
    }
    assert any(b"j-q1" in m for m in after[STREAM])  # the control: other people's events stay


def test_the_backup_taken_before_the_erasure_opens_q_but_no_longer_p(journey: Journey, mesh: MeshProcess) -> None:
    """Crypto-shredding: the erasure destroyed P's data key in the live key store, which a backup never holds,
    so P's sealed e-mail in the backup's copy of profile.db no longer opens (it did when the backup was taken)."""
    stored = _backup_rows(journey.backup, "SELECT profile_id, email FROM profiles WHERE company_id = 'acme'")
    p_id, q_id = (profile_id_for_email("acme", email) for email in (P, Q))
    assert journey.opened_before["profile"] == P
    with closing(pii.local(mesh.var_dir, "profile")) as cipher:
        with pytest.raises(pii.SubjectErased):
            cipher.open(stored[p_id], field="profiles.email", record=p_id)
        assert cipher.open(stored[q_id], field="profiles.email", record=q_id) == Q


def test_the_rejected_row_naming_p_first_goes_with_p(journey: Journey, mesh: MeshProcess, acme: httpx.Client) -> None:
    """A quarantined row is sealed with the key of the first person it names, who owns it
    (services/kit/connectors/imports.py): P's erasure deletes it from Kintell, and its copy in the backup, which
    opened to both e-mails when the backup was taken, no longer opens."""
    errors = acme.get(f"/v1/kintell/imports/{journey.rejected_batch}/errors")
    assert errors.status_code == 200, errors.text
    assert errors.text.splitlines() == ["row,field,message,value"]
    query = f"SELECT raw, profile_id FROM quarantined_rows WHERE batch_id = '{journey.rejected_batch}'"
    ((raw, owner),) = _backup_rows(journey.backup, query, database="kintell").items()
    assert owner == profile_id_for_email("acme", P)
    assert all(email in journey.opened_before["quarantine"] for email in (P, Q))
    with closing(pii.local(mesh.var_dir, "kintell")) as cipher, pytest.raises(pii.SubjectErased):
        _opened(cipher, raw, field="quarantined_rows.raw", record=journey.rejected_batch)
