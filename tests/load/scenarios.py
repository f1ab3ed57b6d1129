"""The bench's scenarios: each measured at several VU counts against a mesh and its ceilings started
for the run (run_bench.py). k6 drives the request paths; the CSV import and the webhook ingest are
timed end to end from Python."""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from services.cli.launcher import Mesh
from services.cli.webhooks import provision
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security.webhooks import signed_headers
from tests.load import k6run
from tests.load.csv_bench import sample_csv
from tests.load.k6run import Result

# Texts per ClassifyBatch request of q2q_classify (the batch RPC takes up to 256).
CLASSIFY_BATCH = 64
CLASSIFY_TEXT = "My mentor helped me feel more confident speaking at work and I applied for two jobs this week"


@dataclass(frozen=True)
class Context:
    """What the scenarios run against: the mesh, its ceilings, a token of a fresh tenant, a profile."""

    mesh: Mesh
    tenant: str
    token: str
    profile_id: str
    ceiling_url: str
    floor_url: str
    work: Path
    duration: str
    webhooks: int
    csv_rows: int

    @property
    def edge(self) -> str:
        """The mesh edge's base URL."""
        return self.mesh.edge_url


@dataclass(frozen=True)
class Scenario:
    """A named measurement; `measure(context, vus)` returns its figures at `vus` concurrent users
    (scenarios measured once, at the highest count, say so with `sweep=False`)."""

    name: str
    what: str
    measure: Callable[[Context, int], Result]
    sweep: bool = True


def _http(context: Context, vus: int, name: str, **env: str) -> Result:
    base = {"TOKEN": context.token, "DURATION": context.duration, "RUN": f"{name}-{vus}-{uuid.uuid4().hex[:6]}"}
    return k6run.run("http.js", {**base, **env}, vus=vus, summary=context.work / f"{name}-{vus}.json")


def envoy_ceiling(context: Context, vus: int) -> Result:
    """GET against a standalone Envoy answering from direct_response."""
    return _http(context, vus, "envoy_ceiling", URL=f"{context.ceiling_url}/v1/profiles/{context.profile_id}")


def trivial_edge(context: Context, vus: int) -> Result:
    """GET /v1/profiles/{id} through the same edge filters to a trivial grpc.aio servicer."""
    return _http(context, vus, "trivial_edge", URL=f"{context.floor_url}/v1/profiles/{context.profile_id}")


def profile_get_edge(context: Context, vus: int) -> Result:
    """GET /v1/profiles/{id} through the mesh edge."""
    return _http(context, vus, "profile_get_edge", URL=f"{context.edge}/v1/profiles/{context.profile_id}")


def profile_list_edge(context: Context, vus: int) -> Result:
    """GET /v1/profiles (first page of the tenant's profiles) through the mesh edge."""
    return _http(context, vus, "profile_list_edge", URL=f"{context.edge}/v1/profiles?page_size=20")


def profile_create_edge(context: Context, vus: int) -> Result:
    """POST /v1/profiles with a fresh e-mail per request through the mesh edge."""
    body = json.dumps({"email": "bench-{n}@example.org"})
    return _http(context, vus, "profile_create_edge", URL=f"{context.edge}/v1/profiles", METHOD="POST", BODY=body)


def q2q_classify(context: Context, vus: int) -> Result:
    """POST /v1/q2q/classify:batch (CLASSIFY_BATCH texts, not stored) through the mesh edge: texts/s, the
    latencies those of whole requests."""
    items = [{"item_id": str(i), "text": CLASSIFY_TEXT} for i in range(CLASSIFY_BATCH)]
    url = f"{context.edge}/v1/q2q/classify:batch"
    result = _http(context, vus, "q2q_classify", URL=url, METHOD="POST", BODY=json.dumps({"items": items}))
    return replace(result, rps=result.rps * CLASSIFY_BATCH)


def q2q_classify_single(context: Context, vus: int) -> Result:
    """POST /v1/q2q/classify (one text, not stored) through the mesh edge."""
    body = json.dumps({"text": CLASSIFY_TEXT})
    url = f"{context.edge}/v1/q2q/classify"
    return _http(context, vus, "q2q_classify_single", URL=url, METHOD="POST", BODY=body)


def profile_get_direct(context: Context, vus: int) -> Result:
    """GetProfile over direct gRPC (mTLS) to the profile service."""
    env = {
        "TARGET": f"127.0.0.1:{context.mesh.resource('profile').port}",
        "METHOD": "teei.profile.v1.ProfileService/GetProfile",
        "REQUEST": json.dumps({"profile_id": context.profile_id}),
        "TOKEN": context.token,
        "DURATION": context.duration,
        "TLS_DIR": str(context.mesh.mtls_dir),
    }
    return k6run.run("grpc.js", env, vus=vus, summary=context.work / f"profile_get_direct-{vus}.json")


def csv_module_rows_per_second(data: bytes, rows: int) -> float:
    """The stdlib csv module's rate over the same bytes (decode and read every row), best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        count = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        best = min(best, time.perf_counter() - started)
        if count != rows + 1:
            raise AssertionError(f"csv module read {count} lines, expected {rows + 1}")
    return rows / best


def kintell_csv(context: Context, _vus: int) -> Result:
    """One CSV import of `csv_rows` sessions through the edge, timed from request to answer; errors are
    rows not stored."""
    data = sample_csv(context.csv_rows).replace(b"bench-", f"{uuid.uuid4().hex[:8]}-".encode())
    started = time.perf_counter()
    response = httpx.post(
        f"{context.edge}/v1/kintell/imports",
        content=data,
        headers={"authorization": f"Bearer {context.token}", "content-type": "text/csv"},
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    stored = response.json()["batch"]["rows_stored"] if response.status_code == 200 else 0
    ms = elapsed * 1000
    return Result(
        rps=context.csv_rows / elapsed, p50_ms=ms, p95_ms=ms, p99_ms=ms, errors=context.csv_rows - stored, vus=1
    )


WEBHOOK_PARTICIPANTS = 40
SESSION_COUNTER = "language_sessions_completed"


def _signed_webhooks(context: Context, run: str) -> Path:
    secret = provision(context.mesh.var_dir, context.tenant, "kintell")
    url = f"{context.edge}/v1/kintell/webhooks/session-completed"
    requests = []
    for i in range(context.webhooks):
        session = {
            "session_id": f"{run}-{i}",
            "session_type": "language",
            "participant": {"email": f"{run}-p{i % WEBHOOK_PARTICIPANTS}@example.org"},
            "volunteer": {"email": f"{run}-v{i % 7}@example.org"},
            "scheduled_at": "2026-03-01T10:00:00Z",
            "completed_at": "2026-03-01T11:00:00Z",
            "duration_minutes": 45,
            "rating": 0.8,
        }
        raw = json.dumps({"delivery_id": f"{run}-d{i}", "session": session})
        signature = signed_headers(secret, raw.encode())
        headers = {"content-type": "application/json", "authorization": f"Bearer {context.token}", **signature}
        requests.append({"url": url, "body": raw, "headers": headers})
    path = context.work / f"webhooks-{run}.json"
    path.write_text(json.dumps(requests))
    return path


def applied_sessions(context: Context, run: str) -> int:
    """The participants' completed-session counters summed over the run's participants."""
    total = 0
    headers = {"authorization": f"Bearer {context.token}"}
    with httpx.Client(base_url=context.edge, headers=headers, timeout=30) as client:
        for i in range(WEBHOOK_PARTICIPANTS):
            response = client.get("/v1/profiles", params={"email": f"{run}-p{i}@example.org"})
            response.raise_for_status()
            for profile in response.json()["profiles"]:
                total += int(profile["counters"].get(SESSION_COUNTER, 0))
    return total


def webhook_ingest(context: Context, vus: int) -> Result:
    """`webhooks` signed Kintell session-completed webhooks sent by k6, counted until every one is applied
    on the participants' profiles: the rate is sessions applied per second from the first send to the
    last apply; errors are refused webhooks plus sessions lost or applied twice."""
    run = uuid.uuid4().hex[:8]
    bodies = _signed_webhooks(context, run)
    started = time.perf_counter()
    sent = k6run.run("http.js", {"BODIES": str(bodies)}, vus=vus, summary=context.work / f"webhook_ingest-{vus}.json")
    applied, deadline = 0, time.monotonic() + 300
    while time.monotonic() < deadline:
        applied = applied_sessions(context, run)
        if applied >= context.webhooks:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    wrong = abs(context.webhooks - applied)
    return Result(context.webhooks / elapsed, sent.p50_ms, sent.p95_ms, sent.p99_ms, sent.errors + wrong, vus)


# The event a session-completed webhook records in kintell's outbox and the profile consumer that applies it.
COMPLETED_EVENT = "kintell.session.completed"
COMPLETED_CONSUMER = "profile-kintell-session-completed"


def event_path_lags(context: Context, since: datetime) -> dict[str, float]:
    """Per stage of the event path, over the session-completed events recorded since `since`: p50 and p99 in
    ms of accepted (the receipt's outbox row) to published (the relay's mark), published to applied (the
    profile inbox's claim), and accepted to applied (source to profile); and each stage's rate per second."""
    recorded = sa.select(events.outbox.c.event_id, events.outbox.c.created_at, events.outbox.c.published_at).where(
        events.outbox.c.event_type == COMPLETED_EVENT, events.outbox.c.created_at >= since
    )
    applied = sa.select(events.inbox.c.event_id, events.inbox.c.processed_at).where(
        events.inbox.c.consumer == COMPLETED_CONSUMER
    )
    kintell, profile = _database(context, "kintell"), _database(context, "profile")
    try:
        with kintell.connect() as connection:
            outbox = connection.execute(recorded).all()
        with profile.connect() as connection:
            inbox = {event_id: processed for event_id, processed in connection.execute(applied)}
    finally:
        kintell.dispose()
        profile.dispose()
    stages: dict[str, list[float]] = {"accepted_to_published": [], "published_to_applied": [], "source_to_profile": []}
    moments: dict[str, list[datetime]] = {"accepted": [], "published": [], "applied": []}
    for event_id, created, published in outbox:
        done = inbox.get(event_id)
        if published is None or done is None:
            continue
        stages["accepted_to_published"].append(_ms(published, created))
        stages["published_to_applied"].append(_ms(done, published))
        stages["source_to_profile"].append(_ms(done, created))
        for stage, moment in zip(moments, (created, published, done), strict=True):
            moments[stage].append(_utc(moment))
    figures: dict[str, float] = {}
    for stage, seen in moments.items():
        if len(seen) > 1:
            # Each stage's own rate: events over the span from its first to its last.
            figures[f"webhook_{stage}_per_s"] = len(seen) / max(_ms(max(seen), min(seen)) / 1000, 1e-3)
    for stage, lags in stages.items():
        if lags:
            cuts = statistics.quantiles(lags, n=100, method="inclusive")
            figures[f"webhook_{stage}_p50_ms"], figures[f"webhook_{stage}_p99_ms"] = cuts[49], cuts[98]
    return figures


def _database(context: Context, service: str) -> sa.Engine:
    own = context.mesh.resource(service).env.get("DATABASE_URL")
    url = own or db.sqlite_url(context.mesh.var_dir / f"{service}.db")
    return db.read_only(db.create_engine(url))


def _ms(later: datetime, earlier: datetime) -> float:
    return (_utc(later) - _utc(earlier)).total_seconds() * 1000


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("envoy_ceiling", "standalone Envoy, direct_response", envoy_ceiling),
    Scenario("trivial_edge", "trivial grpc.aio servicer behind the edge filters (Python floor)", trivial_edge),
    Scenario("profile_get_edge", "GET /v1/profiles/{id} through the edge", profile_get_edge),
    Scenario("profile_get_direct", "GetProfile over direct gRPC (mTLS)", profile_get_direct),
    Scenario("profile_create_edge", "POST /v1/profiles through the edge", profile_create_edge),
    Scenario("profile_list_edge", "GET /v1/profiles?page_size=20 through the edge", profile_list_edge),
    Scenario("q2q_classify", "POST /v1/q2q/classify:batch through the edge (texts/s)", q2q_classify),
    Scenario("q2q_classify_single", "POST /v1/q2q/classify through the edge (texts/s)", q2q_classify_single),
    Scenario(
        "webhook_ingest",
        "signed Kintell webhooks applied on profiles, end to end (events/s)",
        webhook_ingest,
        sweep=False,
    ),
    # Last: the import leaves tens of thousands of events and texts that profile, Safety and Q2Q work
    # through for minutes after it answers; a scenario measured after it would measure that backlog.
    Scenario("kintell_csv_50k", "Kintell CSV import through the edge (rows/s)", kintell_csv, sweep=False),
)
