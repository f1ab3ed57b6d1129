"""A rolling restart of the live mesh under traffic through the edge (`teei roll`, services/cli/rolling.py):
every request answers, while each service named is replaced process by process on its own port (the
successor migrates its database and serves before the predecessor drains and stops), and the launcher
then supervises the successors (a killed successor is restarted). A roll that changes the schema: the
successor of `profile` applies an expand revision (tests/e2e/migrations/profile/, shipped to it through
TEEI_EXTRA_MIGRATIONS) while its predecessor, the code before it, serves on the new schema.

Part of `make test`; `make rolling` runs it five times in a row. A failed request is reported whole
(status, body, headers, times against each service's start, drain and stop, its log lines)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.cli.spec import REPO_ROOT
from services.kit.persistence import db
from tests.e2e.conftest import MeshProcess, start_mesh

pytestmark = pytest.mark.e2e

# Answer headers worth seeing in a failed request's report.
REPORTED_HEADERS = ("grpc-status", "grpc-message", "teei-draining", "x-envoy-upstream-service-time", "server")
# Service log events that mark the phases of a roll.
PHASE_EVENTS = ("server.started", "server.signal", "server.draining", "server.stopped", "db.migrated")
# The expand revision a successor of `profile` applies during a roll, and what it adds.
EXPAND_REVISION = Path(__file__).resolve().parent / "migrations" / "profile" / "9001_rolling_expand.py"
EXPAND_COLUMN, EXPAND_INDEX = "locale", "ix_profiles_company_locale"


@dataclass(frozen=True)
class Failure:
    """One request that did not answer 200: what came back and when (seconds since the epoch)."""

    kind: str
    request_id: str
    status: int
    body: str
    headers: dict[str, str]
    sent: float
    answered: float

    def describe(self, origin: float) -> str:
        return (
            f"{self.kind} {self.status} sent +{self.sent - origin:.3f}s answered +{self.answered - origin:.3f}s "
            f"request_id={self.request_id} headers={self.headers} body={self.body!r}"
        )


class Traffic:
    """Client threads reading and writing profiles through the edge until stopped, counting every answer."""

    def __init__(self, mesh: MeshProcess, *, clients: int = 3) -> None:
        self.mesh, self.headers = mesh, mesh.auth()
        self._prefix = uuid.uuid4().hex[:8]  # e-mails differ from those of the module's other tests (one mesh)
        self.answers: Counter[str] = Counter()
        self.failures: list[Failure] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, count: int, *, timeout: float = 60.0) -> None:
        """Returns once `count` more answers came (the traffic flows), failing after `timeout` seconds."""
        with self._lock:
            target = sum(self.answers.values()) + count
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if sum(self.answers.values()) >= target:
                    return
            assert time.monotonic() < deadline, f"traffic stalled: {self.answers}, {self.failures[-3:]}"
            time.sleep(0.05)  # polling interval of a bounded wait

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.mesh.edge_url, headers=self.headers, timeout=30) as client:
            i = 0
            while not self._halt.is_set():
                i += 1
                email = f"rolling-{self._prefix}-{n}-{i}@example.org"
                created = self._call("create", client, "POST", "/v1/profiles", {"email": email})
                if created is not None:
                    self._call("get", client, "GET", f"/v1/profiles/{created['profile']['profile_id']}")

    def _call(
        self, kind: str, client: httpx.Client, method: str, path: str, body: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        """Sends one request; its answer counts, a failed one is kept whole (the edge's access log names
        it by its x-request-id)."""
        request_id = uuid.uuid4().hex
        sent = time.time()
        try:
            response = client.request(method, path, json=body, headers={"x-request-id": request_id})
        except httpx.HTTPError as exc:
            self._fail(Failure(kind, request_id, 0, repr(exc), {}, sent, time.time()))
            return None
        if response.status_code != 200:
            headers = {name: response.headers[name] for name in REPORTED_HEADERS if name in response.headers}
            self._fail(Failure(kind, request_id, response.status_code, response.text[:300], headers, sent, time.time()))
            return None
        with self._lock:
            self.answers[kind] += 1
        answer: dict[str, Any] = response.json()
        return answer

    def _fail(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)


def report(mesh: MeshProcess, failures: list[Failure], origin: float) -> str:
    """Every failed request with the roll's phases (each service's start, signal, drain and stop, from its
    log) and the edge's access-log line of the request, on one time line from `origin` (the roll's start)."""
    lines = [f"{len(failures)} failed request(s); times from the roll's start"]
    phases: list[tuple[float, str]] = []
    for log in sorted((mesh.var_dir / "logs").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if not any(event in line for event in PHASE_EVENTS):
                continue
            try:
                record = json.loads(line)
                at = datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00")).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            if at >= origin - 5:
                phases.append((at, f"{log.stem}: {record.get('event')}"))
    lines += [f"  +{at - origin:.3f}s {what}" for at, what in sorted(phases)]
    logs = (
        {log.stem: log.read_text(errors="replace") for log in (mesh.var_dir / "logs").glob("*.log")} if failures else {}
    )
    for failure in failures:
        lines.append("  FAILED " + failure.describe(origin))
        for name, text in sorted(logs.items()):
            lines += [f"    {name}: {line}" for line in text.splitlines() if failure.request_id in line]
    return "\n".join(lines)


def _pids(mesh: MeshProcess) -> dict[str, int | None]:
    state = json.loads((mesh.var_dir / "mesh.json").read_text())
    return {name: info.get("pid") for name, info in state["resources"].items()}


def _teei_roll(mesh: MeshProcess, *services: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.cli", "roll", *services, "--var-dir", str(mesh.var_dir)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def extra_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mesh's TEEI_EXTRA_MIGRATIONS: empty at start, a release's revisions are put in before a roll."""
    return tmp_path_factory.mktemp("extra-migrations")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, extra_migrations: Path) -> Iterator[MeshProcess]:
    """One mesh shared by the module's tests, its services reading extra revisions from `extra_migrations`."""
    running = start_mesh(
        tmp_path_factory.mktemp("mesh") / "var", environ={"TEEI_EXTRA_MIGRATIONS": str(extra_migrations)}
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def traffic(mesh: MeshProcess) -> Iterator[Traffic]:
    with Traffic(mesh) as flowing:
        flowing.wait_for(20)
        yield flowing


def test_rolling_restart_of_profile_and_gateway_under_traffic_fails_no_request(
    mesh: MeshProcess, traffic: Traffic
) -> None:
    before = _pids(mesh)
    origin = time.time()
    rolled = _teei_roll(mesh, "profile", "gateway")
    assert rolled.returncode == 0, rolled.stderr
    after = _pids(mesh)
    for name in ("profile", "gateway"):
        assert after[name] not in (None, before[name]), name
        assert f"{name} pid {before[name]} → {after[name]}" in rolled.stdout
        with pytest.raises(ProcessLookupError):
            os.kill(int(before[name] or 0), 0)  # the predecessor is gone
    assert after["kintell"] == before["kintell"]  # not named: not rolled
    traffic.wait_for(20)  # traffic goes on against the successors
    assert traffic.failures == [], report(mesh, traffic.failures, origin)
    assert traffic.answers["create"] > 0
    assert traffic.answers["get"] > 0


def test_a_rolled_successor_is_supervised_like_its_predecessor(mesh: MeshProcess, traffic: Traffic) -> None:
    rolled = _teei_roll(mesh, "profile")
    assert rolled.returncode == 0, rolled.stderr
    successor = _pids(mesh)["profile"]
    assert successor is not None
    os.kill(successor, signal.SIGKILL)
    mesh.output.wait_for_text("profile healthy again", timeout=120)
    assert _pids(mesh)["profile"] not in (None, successor)


def test_a_roll_that_expands_the_schema_fails_no_request_and_the_old_code_serves_on_the_new_schema(
    mesh: MeshProcess, traffic: Traffic, extra_migrations: Path
) -> None:
    """The successor applies the expand revision before it serves; meanwhile its predecessor (the code
    before the revision) goes on reading and writing profiles on the new schema: N-1 compatibility."""
    (extra_migrations / "profile").mkdir()
    shutil.copy(EXPAND_REVISION, extra_migrations / "profile")
    predecessor = _processes(_pids(mesh)["profile"])
    origin = time.time()
    rolled = _teei_roll(mesh, "profile")
    assert rolled.returncode == 0, rolled.stderr
    successor = _processes(_pids(mesh)["profile"])
    traffic.wait_for(20)
    assert traffic.failures == [], report(mesh, traffic.failures, origin)
    with _profile_database(mesh) as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version_profile").scalar_one() == "9001"
        inspector = sa.inspect(connection)
        assert EXPAND_COLUMN in {column["name"] for column in inspector.get_columns("profiles")}
        assert EXPAND_INDEX in {index["name"] for index in inspector.get_indexes("profiles")}
        grouped = connection.exec_driver_sql(f"SELECT {EXPAND_COLUMN}, count(*) FROM profiles GROUP BY 1")
        locales: dict[str | None, int] = {locale: count for locale, count in grouped}
    assert locales.get("und", 0) > 0, locales  # the rows there were, backfilled
    assert locales.get(None, 0) > 0, locales  # rows the code before the revision inserted since
    migrated, served = _served_by_predecessor_after_migration(mesh, predecessor=predecessor, successor=successor)
    assert served, f"the predecessor {predecessor} answered no profile write after the successor migrated at {migrated}"


@contextlib.contextmanager
def _profile_database(mesh: MeshProcess) -> Iterator[sa.Connection]:
    engine = db.create_engine(db.sqlite_url(mesh.var_dir / "profile.db"))
    try:
        with db.read_only(engine).connect() as connection, connection.begin():
            yield connection
    finally:
        engine.dispose()


def _processes(pid: int | None) -> set[int]:
    """The processes serving as `pid`: the workers of a worker group (services/cli/workers.py), else itself."""
    if pid is None:
        return set()
    children = {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    return children or {pid}


def _served_by_predecessor_after_migration(
    mesh: MeshProcess, *, predecessor: set[int], successor: set[int]
) -> tuple[float, list[str]]:
    """The moment the successor's migrations ended (its `db.migrated` line), and the request ids of the profile
    writes the predecessor answered after it (all processes write the service's one log file, each line
    naming its pid)."""
    records = [_record(line) for line in (mesh.var_dir / "logs" / "profile.log").read_text().splitlines()]
    migrated = [r for r in records if r.get("event") == "db.migrated" and r.get("pid") in successor]
    assert migrated, f"no db.migrated line of the successor {successor}"
    assert migrated[-1]["revision"] == "9001", migrated[-1]
    moment = _moment(migrated[-1])
    served = [
        str(r.get("request_id"))
        for r in records
        if r.get("pid") in predecessor
        and r.get("event") == "rpc.finished"
        and r.get("code") == "OK"
        and str(r.get("rpc_method", "")).endswith("/CreateProfile")
        and _moment(r) > moment
    ]
    return moment, served


def _moment(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00")).timestamp()


def _record(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}
