"""A rolling restart of the mesh's services without a failed request (`kill -HUP <teei up>` or `teei roll`):
each gRPC service in turn gets a successor process on the same port (gRPC binds with SO_REUSEPORT, so
both listen while they overlap) running the code now on disk and migrating its database first; once the
successor serves (it writes TEEI_READY_FILE), the predecessor is stopped gracefully: health NOT_SERVING,
its listening socket closed (the kernel then gives the port's new connections to the successor) and its
connections told to go away (GOAWAY), calls that still reach it refused with the `teei-draining` header,
which the edge retries on the successor, calls it took finished (kit/grpc/server.py). A successor that
does not come up is stopped and the predecessor keeps serving.

What makes it safe for data: a successor's migrations run while the predecessor serves, so each revision
must work with the code before it (docs/data/migrations.md, tests/integration/kit/persistence/
test_n_minus_one.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.cli import spec
from services.cli.launcher import LaunchError, Mesh, _terminate

# Polling interval of the bounded wait for a successor's ready file.
POLL_SECONDS = 0.05
# What `teei roll` asks the running `teei up` for, before it sends SIGHUP (no file: every gRPC service).
REQUEST_FILE = Path("run") / "roll.json"


@dataclass(frozen=True)
class Rolled:
    """One service rolled: the process it replaced, its successor, and how long the successor took."""

    name: str
    old_pid: int | None
    new_pid: int
    seconds: float


def rollable(mesh: Mesh) -> list[str]:
    """The services a rolling restart replaces, in start order: the mesh's gRPC services."""
    return [r.name for r in mesh.resources if r.kind == "grpc"]


def roll(mesh: Mesh, name: str, *, timeout: float = 90.0, stop_timeout: float = 30.0) -> Rolled:
    """Replaces `name`'s process by a successor on the same port, then stops the predecessor gracefully."""
    resource = mesh.resource(name)
    if resource.kind != "grpc":
        raise LaunchError(f"{name}: only gRPC services roll (it is {resource.kind})")
    ready = mesh.var_dir / "run" / f"{name}.{uuid.uuid4().hex[:12]}.ready"
    successor_of = dataclasses.replace(resource, env={**resource.env, "TEEI_READY_FILE": str(ready)})
    started = time.monotonic()
    with mesh._lock:
        if mesh._stopping:
            raise LaunchError(f"{name}: the mesh is stopping")
        predecessor = mesh.running.get(name)
        successor = mesh._popen(successor_of)
    try:
        _wait_ready(successor.process.poll, ready, deadline=started + timeout, name=name)
    except LaunchError:
        _terminate(successor.process, stop_timeout)
        successor.log_file.close()
        raise
    finally:
        ready.unlink(missing_ok=True)
    with mesh._lock:
        # From here the supervisor watches the successor; the predecessor's exit is not a crash.
        mesh.running[name] = dataclasses.replace(successor, resource=resource, ready_file=None)  # it serves
    seconds = time.monotonic() - started
    if predecessor is not None:
        _terminate(predecessor.process, stop_timeout)
        predecessor.log_file.close()
    old_pid = None if predecessor is None else predecessor.process.pid
    return Rolled(name, old_pid, successor.process.pid, seconds)


def roll_all(mesh: Mesh, names: Sequence[str] | None = None, *, say: Callable[[str], None] = print) -> list[Rolled]:
    """Rolls `names` (default: every gRPC service) one after another; stops at the first that fails."""
    rolled = []
    for name in names or rollable(mesh):
        done = roll(mesh, name)
        say(f"rolled {name}: pid {done.old_pid} → {done.new_pid}, successor serving in {done.seconds:.1f}s")
        rolled.append(done)
    return rolled


def register(commands: Any) -> None:
    """Adds `teei roll` to the `teei` parser."""
    parser = commands.add_parser(
        "roll", help="restart the running mesh's services one by one without a failed request (new code, migrations)"
    )
    parser.add_argument("services", nargs="*", help="the services to roll (default: every gRPC service)")
    parser.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every successor")
    parser.set_defaults(run=run_roll)


def run_roll(args: argparse.Namespace) -> int:
    """Asks the `teei up` of `--var-dir` to roll, and waits until every named service has a new process."""
    var_dir: Path = args.var_dir.resolve()
    state = _state(var_dir)
    names = list(args.services) or list(state.get("rollable", []))
    unknown = sorted(set(names) - set(state["resources"]))
    if unknown:
        print(f"teei roll: not in this mesh: {', '.join(unknown)}", file=sys.stderr)
        return 2
    before = {name: state["resources"][name].get("pid") for name in names}
    request = var_dir / REQUEST_FILE
    request.parent.mkdir(parents=True, exist_ok=True)
    request.write_text(json.dumps({"services": names}))
    os.kill(int(state["launcher_pid"]), signal.SIGHUP)
    deadline = time.monotonic() + args.timeout
    while True:
        now = _state(var_dir)["resources"]
        pending = [n for n in names if now[n].get("pid") in (None, before[n])]
        if not pending:
            for name in names:
                print(f"teei roll: {name} pid {before[name]} → {now[name]['pid']}")
            return 0
        if time.monotonic() > deadline:
            print(f"teei roll: not rolled in time: {', '.join(pending)} (see teei up's output)", file=sys.stderr)
            return 1
        time.sleep(0.2)  # polling interval of a bounded wait, not synchronisation


def requested(var_dir: Path) -> list[str] | None:
    """The services a `teei roll` asked for (consumed), or None: every gRPC service."""
    request = var_dir / REQUEST_FILE
    try:
        names = json.loads(request.read_text())["services"]
    except (OSError, ValueError, KeyError):
        return None
    request.unlink(missing_ok=True)
    return [str(n) for n in names] or None


def _state(var_dir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((var_dir / "mesh.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"teei roll: no running mesh in {var_dir} ({exc}); start one with `teei up`") from None
    if "launcher_pid" not in state:
        raise SystemExit(f"teei roll: the mesh in {var_dir} does not name its launcher; restart it with `teei up`")
    return state


def _wait_ready(exit_code: Callable[[], int | None], ready: Path, *, deadline: float, name: str) -> None:
    while not ready.exists():
        code = exit_code()
        if code is not None:
            raise LaunchError(f"{name}: the successor exited with {code} before serving; the old process serves on")
        if time.monotonic() > deadline:
            raise LaunchError(f"{name}: the successor did not serve in time; the old process serves on")
        time.sleep(POLL_SECONDS)  # polling interval of a bounded wait, not synchronisation
