"""The whole mesh, started the way `make up` starts it (`teei up`), on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.cli.spec import REPO_ROOT
from services.gateway import bootstrap as gateway_bootstrap
from services.gateway import handlers as gateway_handlers
from services.gateway.domain.commands import MintToken
from services.kit.persistence import db
from tests.support import LineReader


def mint(
    var_dir: Path,
    tenant: str | None = "acme",
    *,
    role: str = "company_admin",
    subject: str = "",
    database_url: str | None = None,
) -> str:
    """An access token signed by the mesh's own gateway key ring (in `database_url`, else var/gateway.db), as
    `teei token mint` prints it."""
    gateway = gateway_bootstrap.open_gateway(database_url or db.sqlite_url(var_dir / "gateway.db"), var_dir)
    try:
        command = MintToken(role=role, company_id=tenant, subject=subject or f"e2e-{role}")
        return gateway_handlers.mint_token(
            command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings
        ).access_token
    finally:
        gateway.engine.dispose()


def auth(
    var_dir: Path,
    tenant: str | None = "acme",
    *,
    role: str = "company_admin",
    subject: str = "",
    database_url: str | None = None,
) -> dict[str, str]:
    """HTTP headers authenticating a caller of `tenant` with `role` (and `subject`, when given)."""
    return {"authorization": f"Bearer {mint(var_dir, tenant, role=role, subject=subject, database_url=database_url)}"}


@dataclass
class MeshProcess:
    """A running `teei up` and what it reported."""

    process: subprocess.Popen[str]
    output: LineReader
    var_dir: Path
    edge_url: str
    ports: dict[str, int]
    ready_seconds: float

    def auth(self, tenant: str | None = "acme", *, role: str = "company_admin") -> dict[str, str]:
        """HTTP headers authenticating a caller of `tenant` with `role` at this mesh's edge."""
        return auth(self.var_dir, tenant, role=role)

    def stop(self) -> int:
        """SIGTERM the launcher (as Ctrl-C would) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.output.close()
        return self.process.returncode


def start_mesh(var_dir: Path, *, environ: dict[str, str] | None = None) -> MeshProcess:
    """Runs `teei up --free-ports` (with `environ` added to this process's environment) and waits until it
    reports the edge ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--free-ports", "--var-dir", str(var_dir)],
        cwd=REPO_ROOT,
        env={**os.environ, **(environ or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    try:
        ready = output.wait_for_text("mesh ready in", timeout=120)
        output.wait_for_text("teei up: edge", timeout=10)
    except AssertionError:
        process.kill()
        process.wait()
        raise
    state = json.loads((var_dir / "mesh.json").read_text())
    ports = {name: info["port"] for name, info in state["resources"].items()}
    seconds = float(ready.rsplit(" ", 1)[1].rstrip("s"))
    return MeshProcess(process, output, var_dir, state["edge_url"], ports, seconds)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshProcess]:
    """One mesh shared by a module's tests."""
    running = start_mesh(tmp_path_factory.mktemp("mesh") / "var")
    try:
        yield running
    finally:
        running.stop()
