"""Phase A end to end through the edge, against real NATS and the seven real services: programme
data in (CSV and webhooks) → stored, quarantined or refused → events → unified profiles → safety
screening → Q2Q scores with evidence; and no event lost or applied twice when services stop."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli import spec
from services.cli.launcher import Mesh
from services.cli.webhooks import provision
from services.kit.security.webhooks import signed_headers
from tests.e2e.conftest import auth

pytestmark = pytest.mark.e2e
KINTELL_HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=tmp_path_factory.mktemp("flows") / "var")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def tenant() -> str:
    """A fresh company per test, so tests share the mesh without sharing data."""
    return f"flow-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def edge(mesh: Mesh, tenant: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, tenant), timeout=120.0) as client:
        yield client


def eventually(probe: Callable[[], Any], *, timeout: float = 60.0) -> Any:
    """Polls `probe` until it returns something truthy: the platform is eventually consistent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except AssertionError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"not reached within {timeout}s"
        time.sleep(0.25)  # polling interval of a bounded wait for asynchronous consumers


def profile_of(edge: httpx.Client, email: str) -> dict[str, Any] | None:
    response = edge.get("/v1/profiles", params={"email": email})
    assert response.status_code == 200, response.text
    profiles: list[dict[str, Any]] = response.json()["profiles"]
    return profiles[0] if profiles else None


def counters_reach(edge: httpx.Client, email: str, expected: dict[str, int]) -> dict[str, Any] | None:
    profile = profile_of(edge, email)
    if profile is None:
        return None
    counters = {k: int(v) for k, v in profile["counters"].items()}
    return profile if all(counters.get(k) == v for k, v in expected.items()) else None


def milestones(profile: dict[str, Any]) -> set[str]:
    return {m["kind"] for m in profile["milestones"]}


def scores_for(edge: httpx.Client, profile_id: str) -> list[dict[str, Any]]:
    response = edge.get("/v1/q2q/scores", params={"profile_id": profile_id})
    assert response.status_code == 200, response.text
    scores: list[dict[str, Any]] = response.json()["scores"]
    return scores


def import_kintell(edge: httpx.Client, rows: list[str]) -> dict[str, Any]:
    body = "\r\n".join([KINTELL_HEADER, *rows]) + "\r\n"
    response = edge.post("/v1/kintell/imports", content=body.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()["batch"]
    return batch


def test_kintell_csv_to_profiles_screening_and_scores(edge: httpx.Client) -> None:
    rows = [
        "k-1,amira@example.org,vera@example.org,2026-03-01,2026-03-01T11:00:00Z,60,0.9,"
        '"I feel much more confident speaking now, and I made new friends in the group",B1,"travel,work"',
        "k-2,amira@example.org,vera@example.org,2026-03-08,2026-03-08T11:00:00Z,60,0.8,"
        '"Call me on 0412 345 678. I practised interview questions and updated my CV",B2,',
        "k-3,not-an-email,vera@example.org,2026-03-09,,,,,,",
        "k-4,amira@example.org,vera@example.org,2026-03-10,,,7,,,",
    ]
    batch = import_kintell(edge, rows)
    assert (batch["schema"], batch["schema_version"]) == ("language_session", "1.0")
    assert (batch["rows_total"], batch["rows_stored"], batch["rows_quarantined"]) == (4, 2, 2)

    errors = edge.get(f"/v1/kintell/imports/{batch['batch_id']}/errors")
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    lines = errors.text.splitlines()
    assert lines[0] == "row,field,message,value"
    assert any(line.startswith("4,participant_email,") for line in lines)
    assert any(line.startswith("5,rating,") for line in lines)

    amira = eventually(lambda: counters_reach(edge, "amira@example.org", {"language_sessions_completed": 2}))
    assert {"MILESTONE_KIND_FIRST_LANGUAGE_SESSION", "MILESTONE_KIND_LANGUAGE_LEVEL_UP"} <= milestones(amira)
    assert any(e["programme"] == "PROGRAMME_TYPE_LANGUAGE" for e in amira["enrolments"])
    assert amira["flags"]["is_language_participant"] is True
    vera = eventually(lambda: profile_of(edge, "vera@example.org"))
    assert vera["profile_id"] != amira["profile_id"]

    scores = eventually(lambda: len(s := scores_for(edge, amira["profile_id"])) >= 8 and s)
    dimensions = {s["dimension"] for s in scores}
    assert {"DIMENSION_CONFIDENCE", "DIMENSION_BELONGING", "DIMENSION_JOB_READINESS"} <= dimensions
    evidence = [e for s in scores for e in s["evidence"]]
    assert evidence, "scores carry their evidence spans"
    assert "0412 345 678" not in json.dumps(scores), "PII is redacted before it is kept as evidence"


def test_unsafe_feedback_waits_for_review_and_is_never_scored_unreviewed(edge: httpx.Client) -> None:
    rows = [
        "k-9,omar@example.org,vera@example.org,2026-03-01,2026-03-01T11:00:00Z,60,0.2,"
        '"You are a worthless idiot and I will hurt you",A2,',
    ]
    assert import_kintell(edge, rows)["rows_stored"] == 1
    omar = eventually(lambda: profile_of(edge, "omar@example.org"))

    def pending_review() -> list[dict[str, Any]]:
        reviews: list[dict[str, Any]] = edge.get("/v1/safety/reviews", params={"status": "pending"}).json()["reviews"]
        return reviews

    (review,) = eventually(pending_review)
    assert scores_for(edge, omar["profile_id"]) == []
    decided = edge.post(f"/v1/safety/reviews/{review['review_id']}:decide", json={"decision": "REVIEW_DECISION_REJECT"})
    assert decided.status_code == 200, decided.text
    again = edge.post(f"/v1/safety/reviews/{review['review_id']}:decide", json={"decision": "REVIEW_DECISION_APPROVE"})
    assert again.status_code == 409, "a decided review is not decided twice"
    assert scores_for(edge, omar["profile_id"]) == []


def test_text_with_an_email_is_scored_only_after_approval_and_without_the_address(edge: httpx.Client) -> None:
    rows = [
        "k-7,noor@example.org,vera@example.org,2026-03-01,2026-03-01T11:00:00Z,60,0.9,"
        '"Mail me at noor.home@gmail.com - I feel more confident and I joined a football team",B1,',
    ]
    assert import_kintell(edge, rows)["rows_stored"] == 1
    noor = eventually(lambda: profile_of(edge, "noor@example.org"))
    reviews = eventually(lambda: edge.get("/v1/safety/reviews", params={"status": "pending"}).json()["reviews"])
    assert scores_for(edge, noor["profile_id"]) == []
    approved = edge.post(
        f"/v1/safety/reviews/{reviews[0]['review_id']}:decide", json={"decision": "REVIEW_DECISION_APPROVE"}
    )
    assert approved.status_code == 200, approved.text
    scores = eventually(lambda: scores_for(edge, noor["profile_id"]))
    assert "noor.home@gmail.com" not in json.dumps(scores)


def test_buddy_match_and_feedback_reach_profiles_and_scores(mesh: Mesh, tenant: str, edge: httpx.Client) -> None:
    matches = (
        "match_id,participant_email,participant_external_id,participant_given_name,participant_family_name,"
        "buddy_email,buddy_external_id,buddy_given_name,buddy_family_name,matched_at,status,ended_at,"
        "languages,interests,location\r\n"
        'm-1,lina@example.org,b-11,Lina,,ben@example.org,b-12,Ben,,2026-02-01T09:00:00Z,active,,"ar,no",football,Oslo\r\n'
    )
    response = edge.post("/v1/buddy/imports/matches", content=matches.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["batch"]["rows_stored"] == 1
    feedback = {
        "delivery_id": "dlv-1",
        "data": {
            "feedback_id": "f-1",
            "match_id": "m-1",
            "author_email": "lina@example.org",
            "submitted_at": "2026-02-20T10:00:00Z",
            "rating": 0.9,
            "feedback_text": "My buddy helped me feel welcome here and I am applying for jobs now",
        },
    }
    raw = json.dumps(feedback).encode()
    secret = provision(mesh.var_dir, tenant, "buddy")
    unsigned = edge.post("/v1/buddy/webhooks/feedback", content=raw, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401, unsigned.text
    for _ in range(5):  # a sender's retries: same webhook id, fresh timestamp and signature each time
        headers = {"content-type": "application/json", **signed_headers(secret, raw, message_id="msg_dlv1")}
        delivered = edge.post("/v1/buddy/webhooks/feedback", content=raw, headers=headers)
        assert delivered.status_code == 200, delivered.text
    assert delivered.json()["ack"]["duplicate"] is True

    lina = eventually(lambda: counters_reach(edge, "lina@example.org", {"buddy_match_count": 1}))
    assert lina["flags"]["is_buddy_participant"] is True
    assert "MILESTONE_KIND_BUDDY_MATCHED" in milestones(lina)
    eventually(lambda: counters_reach(edge, "lina@example.org", {"buddy_feedback_submitted": 1}))
    scores = eventually(lambda: scores_for(edge, lina["profile_id"]))
    assert any(s["dimension"] == "DIMENSION_BELONGING" and s["score"] == pytest.approx(0.8) for s in scores)


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        (
            "ecornell",
            {
                "event_type": "course.completed",
                "event_id": "ec-1",
                "timestamp": "2026-04-01T10:00:00Z",
                "user": {"external_id": "u-1", "email": "sara@example.org", "names": {"first": "Sara"}},
                "course": {"id": "c-101", "name": "Project management"},
                "progress": {"status": "completed", "percent_complete": 100, "completed_at": "2026-04-01T09:00:00Z"},
            },
        ),
        (
            "itslearning",
            {
                "eventType": "CourseCompletion",
                "eventId": "it-1",
                "timestamp": "2026-04-01T10:00:00Z",
                "userId": "u-2",
                "userEmail": "sara@example.org",
                "courseId": "c-202",
                "courseName": "Norwegian for work",
                "status": "completed",
                "progressPercentage": 100,
                "completionDate": "2026-04-01T09:00:00Z",
            },
        ),
        (
            "generic",
            {
                "event_type": "completion",
                "event_id": "g-1",
                "timestamp": "2026-04-01T10:00:00Z",
                "provider": "coursera",
                "user_identifier": "sara@example.org",
                "course_id": "c-303",
                "course_name": "Data literacy",
                "status": "completed",
                "progress_percent": 100,
                "completed_at": "2026-04-01T09:00:00Z",
            },
        ),
    ],
)
def test_each_upskilling_provider_completion_reaches_the_profile(
    mesh: Mesh, tenant: str, edge: httpx.Client, provider: str, payload: dict[str, Any]
) -> None:
    raw = json.dumps(payload).encode()
    headers = signed_headers(provision(mesh.var_dir, tenant, provider), raw)
    response = edge.post(f"/v1/upskilling/webhooks/{provider}", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    sara = eventually(lambda: counters_reach(edge, "sara@example.org", {"courses_completed": 1}))
    assert "MILESTONE_KIND_COURSE_COMPLETED" in milestones(sara)
    progress = edge.get("/v1/upskilling/progress", params={"email": "sara@example.org"}).json()
    assert [p["status"] for p in progress["progress"]] == ["PROGRESS_STATUS_COMPLETED"]


def test_events_wait_while_the_profile_service_is_down_and_apply_once(mesh: Mesh, edge: httpx.Client) -> None:
    mesh.stop_resource("profile")
    try:
        rows = [
            f"d-{i},dana@example.org,vera@example.org,2026-05-0{i},2026-05-0{i}T10:00:00Z,45,0.7,,A2,"
            for i in (1, 2, 3)
        ]
        assert import_kintell(edge, rows)["rows_stored"] == 3
    finally:
        mesh.start_resource("profile")
    dana = eventually(lambda: counters_reach(edge, "dana@example.org", {"language_sessions_completed": 3}))
    assert sorted(m["kind"] for m in dana["milestones"]) == ["MILESTONE_KIND_FIRST_LANGUAGE_SESSION"]
    # Re-importing the same file emits nothing: after a later marker session the counter is 4, not 7.
    assert import_kintell(edge, rows)["rows_stored"] == 3
    import_kintell(edge, ["d-9,dana@example.org,vera@example.org,2026-05-09,2026-05-09T10:00:00Z,45,,,,"])
    eventually(lambda: counters_reach(edge, "dana@example.org", {"language_sessions_completed": 4}))


def _counter(edge: httpx.Client, email: str, name: str) -> int:
    profile = profile_of(edge, email) or {}
    return int(profile.get("counters", {}).get(name, 0))


def test_a_consumer_killed_mid_stream_applies_every_event_exactly_once(mesh: Mesh, edge: httpx.Client) -> None:
    """SIGKILL the profile service while it works through a stream of events; after the restart
    the counter equals the number of sessions: nothing lost, nothing applied twice."""
    sessions = 300
    rows = [f"m-{i},mo@example.org,vera@example.org,2026-07-01,2026-07-01T10:00:00Z,30,,,," for i in range(sessions)]
    assert import_kintell(edge, rows)["rows_stored"] == sessions
    applied_before_kill = int(eventually(lambda: _counter(edge, "mo@example.org", "language_sessions_completed")))
    mesh.stop_resource("profile", kill=True)  # mid-stream: no drain, no ack of in-flight deliveries
    mesh.start_resource("profile")
    eventually(lambda: counters_reach(edge, "mo@example.org", {"language_sessions_completed": sessions}), timeout=120)
    print(f"killed after {applied_before_kill} of {sessions} events were applied")
    import_kintell(edge, ["m-marker,mo@example.org,vera@example.org,2026-07-02,2026-07-02T10:00:00Z,30,,,,"])
    eventually(lambda: counters_reach(edge, "mo@example.org", {"language_sessions_completed": sessions + 1}))


def test_outbox_delivers_after_the_connector_dies_between_commit_and_publish(mesh: Mesh, edge: httpx.Client) -> None:
    mesh.stop_resource("nats")  # nothing can be published: the import commits to the outbox only
    try:
        batch = import_kintell(edge, ["x-1,kai@example.org,vera@example.org,2026-06-01,2026-06-01T10:00:00Z,30,,,,"])
        assert batch["rows_stored"] == 1
        mesh.stop_resource("kintell", kill=True)  # SIGKILL: no graceful flush of the outbox
    finally:
        mesh.start_resource("nats")
        mesh.start_resource("kintell")
    kai = eventually(lambda: counters_reach(edge, "kai@example.org", {"language_sessions_completed": 1}), timeout=90)
    assert "MILESTONE_KIND_FIRST_LANGUAGE_SESSION" in milestones(kai)


def test_var_dir_holds_each_service_database(mesh: Mesh) -> None:
    names = {p.name for p in Path(mesh.var_dir).glob("*.db")}
    assert {"profile.db", "kintell.db", "buddy.db", "upskilling.db", "q2q.db", "safety.db", "gateway.db"} <= names
