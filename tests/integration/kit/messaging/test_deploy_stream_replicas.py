"""Event streams on a real three-node JetStream cluster (the rendered NATS config, on loopback, its store
encrypted with the key the Secret gives): created at replicas 3 as the manifests ask, and never shrunk by a
caller that asks for fewer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from services.cli import probes
from services.cli.deploy import engines, render
from services.cli.spec import free_port
from services.kit.messaging import eventbus, store_encryption

STORE_KEY = "c3RvcmUta2V5LWZvci10aGUtY2x1c3Rlci10ZXN0LTAx"


def loopback_config(text: str, *, client: int, monitor: int, routes: list[int], cluster: int, store: Path) -> str:
    """The rendered nats.conf with the pod DNS names and fixed ports replaced by loopback ones."""
    replacements = {
        "port:": f"port: {client}",
        "http_port:": f"http: 127.0.0.1:{monitor}",
        "  store_dir:": f"  store_dir: {store}",
        "  port:": f"  listen: 127.0.0.1:{cluster}",
        "  routes:": "  routes: [" + ", ".join(f"nats://127.0.0.1:{p}" for p in routes) + "]",
    }
    lines = [
        next((new for old, new in replacements.items() if line.startswith(old)), line) for line in text.splitlines()
    ]
    return "\n".join(["host: 127.0.0.1", *lines]) + "\n"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three nats-servers forming the JetStream cluster of the rendered config; their client URLs."""
    mesh = render.load_topology()
    assert mesh.nats is not None
    text = engines.nats_config(mesh, mesh.nats, replicas=3)
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    routes = [cluster for _, _, cluster in ports]
    processes = []
    binary = Path(sys.executable).parent / "nats-server"
    try:
        for index, (client, monitor, cluster_port) in enumerate(ports):
            conf = tmp_path / f"nats-{index}.conf"
            store = tmp_path / f"store-{index}"
            conf.write_text(
                loopback_config(text, client=client, monitor=monitor, routes=routes, cluster=cluster_port, store=store)
            )
            command = [str(binary), "--config", str(conf)]
            processes.append(
                subprocess.Popen(
                    command,
                    # As the pod's environment: its name, and the store key from the Secret nats-store-key.
                    env={"SERVER_NAME": f"nats-{index}", store_encryption.KEY_VARIABLE: STORE_KEY},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 60
        for _, monitor, _ in ports:
            while not probes.http_ok(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"):
                assert all(p.poll() is None for p in processes), "a nats-server exited"
                assert time.monotonic() < deadline, "the JetStream cluster did not form in time"
                time.sleep(0.1)  # polling interval of a bounded wait
        yield [f"nats://127.0.0.1:{client}" for client, _, _ in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


@pytest.fixture
async def jetstream(cluster: list[str]) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(servers=cluster, connect_timeout=5)
    try:
        yield client.jetstream(timeout=10)
    finally:
        await client.close()


async def ensure_with_leader(jetstream: JetStreamContext, replicas: int) -> None:
    """The streams, retried while the cluster is still electing its meta leader (a bounded wait)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await eventbus.ensure_stream(jetstream, replicas=replicas)
            await eventbus.ensure_dlq_stream(jetstream, replicas=replicas)
            return
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            assert time.monotonic() < deadline, "no JetStream meta leader in time"
            await asyncio.sleep(0.2)  # polling interval of a bounded wait


async def test_streams_are_created_at_three_replicas_and_not_shrunk_by_a_caller_asking_for_one(
    jetstream: JetStreamContext,
) -> None:
    """ensure_stream(replicas=3) on the rendered three-node cluster keeps three copies; a later call with the
    default (an operator command, or a service configured for one server) leaves them at three."""
    await ensure_with_leader(jetstream, replicas=3)
    for name in (eventbus.STREAM, eventbus.DLQ_STREAM):
        info = await jetstream.stream_info(name)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == 2  # the leader and two followers
    await eventbus.ensure_dlq_stream(jetstream)
    await eventbus.ensure_stream(jetstream, replicas=1)
    for name in (eventbus.STREAM, eventbus.DLQ_STREAM):
        assert (await jetstream.stream_info(name)).config.num_replicas == 3


async def test_a_single_server_keeps_one_replica(nats_url: str) -> None:
    """With one NATS server (dev, `teei up`) the streams are created and kept at one replica."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await eventbus.ensure_stream(js)
        await eventbus.ensure_stream(js, replicas=1)
        assert (await js.stream_info(eventbus.STREAM)).config.num_replicas == 1
    finally:
        await client.close()
