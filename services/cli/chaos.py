"""`teei chaos`: kills the processes of a running `teei up` one at a time under a write loop, and reports how
long each took to be back and which writes failed meanwhile. Only a mesh whose var dir it can read, whose
processes it can tie to that dir, and whose edge is on loopback. tests/e2e/test_chaos.py runs the same round."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.cli import spec
from services.gateway import bootstrap, handlers
from services.gateway.domain.commands import MintToken
from services.kit.persistence import db

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ROUNDS = 5
RECOVERY_DEADLINE = 90.0


class ChaosError(Exception):
    """The mesh is not one `teei chaos` may touch, or it did not recover in time."""


@dataclass(frozen=True)
class Strike:
    """One fault: `signal` sent to resource `name` (SIGSTOP is a hang that only liveness can end)."""

    name: str
    signal: signal.Signals = signal.SIGKILL


@dataclass(frozen=True)
class Recovery:
    """How one strike went: seconds from the signal until the mesh was ready again with a new process in
    place, and the writes that failed meanwhile (by status; 0 is no answer)."""

    strike: Strike
    seconds: float
    failed: int
    statuses: tuple[int, ...]


@dataclass(frozen=True)
class Write:
    """One profile creation through the edge: when sent and answered, status, and the id when acknowledged."""

    sent: float
    answered: float
    status: int
    profile_id: str | None


# --- the mesh as its var dir shows it ---------------------------------------------------------------


def read_state(var_dir: Path) -> dict[str, Any]:
    """var/mesh.json; ChaosError when there is none."""
    try:
        state: dict[str, Any] = json.loads((var_dir / "mesh.json").read_text())
    except (OSError, ValueError) as exc:
        raise ChaosError(f"no running mesh in {var_dir} ({exc}); start one with `teei up`") from None
    return state


def check_visible(var_dir: Path) -> dict[str, Any]:
    """The mesh's state once it is known to be a live `teei up` of `var_dir` on loopback: its edge URL on a
    loopback host, and every process alive, started for this var dir and by one launcher."""
    state = read_state(var_dir)
    host = urlsplit(str(state.get("edge_url", ""))).hostname
    if host not in LOOPBACK:
        raise ChaosError(f"the edge {state.get('edge_url')!r} is not on loopback; teei chaos runs only locally")
    parents = {name: _parent_of_own(var_dir, name, info.get("pid")) for name, info in state["resources"].items()}
    if len(set(parents.values())) != 1:
        raise ChaosError(f"the processes of {var_dir} are not the children of one launcher: {parents}")
    return state


def _parent_of_own(var_dir: Path, name: str, pid: object) -> int:
    if not isinstance(pid, int):
        raise ChaosError(f"{name} is not running (mesh.json has no pid); wait until the mesh is ready")
    proc = Path(f"/proc/{pid}")
    try:
        marks = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        raise ChaosError(f"{name} (pid {pid}) is not a process this user can see") from None
    if str(var_dir).encode() not in marks:
        raise ChaosError(f"{name} (pid {pid}) does not belong to the mesh in {var_dir}")
    return parent


def edge_ready(client: httpx.Client) -> bool:
    """True when the edge's readiness answers 200."""
    try:
        return client.get("/health/readiness").status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def wait_ready(var_dir: Path, client: httpx.Client, *, name: str = "", old_pid: int = 0, deadline: float) -> float:
    """When the mesh is ready again (mesh.json `ready`, every process running, edge readiness 200) with resource
    `name` on a process other than `old_pid`; ChaosError at `deadline` (monotonic)."""
    while time.monotonic() < deadline:
        state = read_state(var_dir)
        pid = state["resources"][name]["pid"] if name else -1
        if state.get("status") == "ready" and pid not in (None, old_pid) and edge_ready(client):
            return time.monotonic()
        time.sleep(0.05)  # polling interval of a bounded wait on observable state
    raise ChaosError(f"the mesh was not ready again{f' after {name}' if name else ''} by the deadline")


# --- load --------------------------------------------------------------------------------------------


def bearer(var_dir: Path, tenant: str) -> dict[str, str]:
    """Authorization for a company admin of `tenant`, signed by the mesh's own gateway key ring."""
    gateway = bootstrap.open_gateway(db.sqlite_url(var_dir / f"{bootstrap.NAME}.db"), var_dir)
    try:
        command = MintToken(role="company_admin", company_id=tenant, subject="teei-chaos")
        token = handlers.mint_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings).access_token
    finally:
        gateway.engine.dispose()
    return {"authorization": f"Bearer {token}"}


@dataclass
class WriteLoop:
    """Creates profiles through the edge one after another (at most ~1/`pace` a second) on a thread."""

    edge_url: str
    headers: Mapping[str, str]
    pace: float = 0.01
    writes: list[Write] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> WriteLoop:
        self._thread = threading.Thread(target=self._run, name="chaos-writes", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(30)

    def snapshot(self) -> list[Write]:
        with self._lock:
            return list(self.writes)

    def acked(self) -> int:
        return sum(1 for w in self.snapshot() if w.profile_id)

    def _run(self) -> None:
        with httpx.Client(base_url=self.edge_url, headers=dict(self.headers), timeout=10.0) as client:
            while not self._halt.is_set():
                write = _create_profile(client)
                with self._lock:
                    self.writes.append(write)
                self._halt.wait(self.pace)


def _create_profile(client: httpx.Client) -> Write:
    sent = time.monotonic()
    try:
        response = client.post("/v1/profiles", json={"email": f"c-{uuid.uuid4().hex[:12]}@example.org"})
    except httpx.HTTPError:
        return Write(sent, time.monotonic(), 0, None)
    ok = response.status_code == httpx.codes.OK
    return Write(sent, time.monotonic(), response.status_code, response.json()["profile"]["profile_id"] if ok else None)


def lost_writes(client: httpx.Client, writes: Iterable[Write]) -> list[str]:
    """The acknowledged profiles that cannot be read back."""
    return [
        w.profile_id for w in writes if w.profile_id and client.get(f"/v1/profiles/{w.profile_id}").status_code != 200
    ]


# --- the round -----------------------------------------------------------------------------------------


def strike(var_dir: Path, client: httpx.Client, writes: WriteLoop, fault: Strike) -> Recovery:
    """Sends the fault once writes flow and the mesh is ready; returns once it is ready again without a human."""
    wait_ready(var_dir, client, deadline=time.monotonic() + RECOVERY_DEADLINE)
    _wait_for_writes(writes, more=5)
    pid = int(read_state(var_dir)["resources"][fault.name]["pid"])
    at = time.monotonic()
    os.kill(pid, fault.signal)
    back = wait_ready(var_dir, client, name=fault.name, old_pid=pid, deadline=at + RECOVERY_DEADLINE)
    _wait_for_writes(writes, more=1)  # the writes sent before `back` have been answered
    failed = [w for w in writes.snapshot() if not w.profile_id and w.answered >= at and w.sent <= back]
    return Recovery(fault, back - at, len(failed), tuple(sorted({w.status for w in failed})))


def _wait_for_writes(writes: WriteLoop, *, more: int, timeout: float = 60.0) -> None:
    target, deadline = writes.acked() + more, time.monotonic() + timeout
    while writes.acked() < target:
        if time.monotonic() > deadline:
            raise ChaosError(f"writes did not flow within {timeout:g}s")
        time.sleep(0.02)  # polling interval of a bounded wait on the write loop


def default_round(resources: Iterable[str], *, hang: str | None) -> list[Strike]:
    """SIGKILL of every service (in tilt.yaml order), then NATS, then Envoy; then SIGSTOP of `hang`."""
    names = list(resources)
    services = [n for n in names if n not in ("nats", "edge")]
    kills = [Strike(n) for n in [*services, "nats", "edge"] if n in names]
    return kills + ([Strike(hang, signal.SIGSTOP)] if hang else [])


def run_rounds(var_dir: Path, strikes: list[Strike], *, rounds: int, report: Callable[[str], None]) -> list[Recovery]:
    """Every strike `rounds` times under a write loop; checks that no acknowledged write was lost."""
    state = check_visible(var_dir)
    writes = WriteLoop(state["edge_url"], bearer(var_dir, "chaos")).start()
    results: list[Recovery] = []
    try:
        with httpx.Client(base_url=state["edge_url"], headers=dict(writes.headers), timeout=10.0) as client:
            for _ in range(rounds):
                for fault in strikes:
                    results.append(recovery := strike(var_dir, client, writes, fault))
                    report(describe(recovery))
            writes.stop()
            lost = lost_writes(client, writes.snapshot())
    finally:
        writes.stop()
    done = writes.snapshot()
    report(
        f"writes: {sum(1 for w in done if w.profile_id)} acknowledged, {len(lost)} lost, "
        f"{sum(1 for w in done if not w.profile_id)} failed"
    )
    if lost:
        raise ChaosError(f"acknowledged writes lost: {lost[:10]}")
    return results


def describe(recovery: Recovery) -> str:
    """One line per strike."""
    statuses = ", ".join(map(str, recovery.statuses)) or "-"
    return (
        f"{recovery.strike.signal.name} {recovery.strike.name}: ready again in {recovery.seconds:.2f}s, "
        f"{recovery.failed} writes failed (statuses {statuses})"
    )


def summary(results: list[Recovery]) -> str:
    """A Markdown table: per component and signal, median and max recovery, failed writes per strike."""
    rows = [
        "| component | signal | strikes | median s | max s | failed writes per strike | statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for fault in dict.fromkeys(r.strike for r in results):
        mine = [r for r in results if r.strike == fault]
        seconds = [r.seconds for r in mine]
        statuses = sorted({s for r in mine for s in r.statuses})
        rows.append(
            f"| {fault.name} | {fault.signal.name} | {len(mine)} | {statistics.median(seconds):.2f} "
            f"| {max(seconds):.2f} | {', '.join(str(r.failed) for r in mine)} "
            f"| {', '.join(map(str, statuses)) or '-'} |"
        )
    return "\n".join(rows)


# --- the command -------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Adds `teei chaos` to the `teei` command."""
    chaos = subparsers.add_parser("chaos", help="kill the live mesh's processes one at a time under writes")
    chaos.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's var dir")
    chaos.add_argument("--rounds", type=int, default=1, choices=range(1, MAX_ROUNDS + 1), metavar="1-5")
    chaos.add_argument("--only", default="", help="comma-separated resources to kill (default: every one)")
    chaos.add_argument("--hang", default="profile", help="service to SIGSTOP at the end ('' for none)")
    chaos.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs the rounds and prints a line per strike, then the summary; 1 when the mesh is not one to touch."""
    var_dir = args.var_dir.resolve()
    try:
        names = list(check_visible(var_dir)["resources"])
        chosen = [n.strip() for n in args.only.split(",") if n.strip()] or names
        unknown = sorted(set(chosen + ([args.hang] if args.hang else [])) - set(names))
        if unknown:
            raise ChaosError(f"not resources of this mesh: {', '.join(unknown)}")
        strikes = default_round([n for n in names if n in chosen], hang=args.hang or None)
        results = run_rounds(var_dir, strikes, rounds=args.rounds, report=lambda line: print(line, flush=True))
    except ChaosError as exc:
        print(f"teei chaos: {exc}", file=sys.stderr)
        return 1
    print(summary(results))
    return 0
