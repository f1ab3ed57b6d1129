"""JetStream's files at rest, NATS started as `teei up` starts it (tilt.yaml's command through the launcher):
a published marker is nowhere in the store's bytes, while the same server started without the cipher leaves
it there in the clear; a restart reads the message back with the key; without the key nothing is read."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nats
import pytest

from services.cli import probes, spec
from services.cli.launcher import Mesh
from services.kit.messaging import store_encryption

STREAM = "ENCRYPTION_TEST"
KEY = "a2V5LW9mLXRoZS1lbmNyeXB0aW9uLXRlc3QtMDEyMzQ1Ng=="


def _nats_as_teei_up_starts_it(var_dir: Path, environ: dict[str, str]) -> Mesh:
    resources = tuple(r for r in spec.with_free_ports(spec.load()) if r.kind == "nats")
    return Mesh(resources=resources, var_dir=var_dir, environ=environ, mtls=False, health_interval_ms=200)


def _url(mesh: Mesh) -> str:
    return f"nats://127.0.0.1:{mesh.resource('nats').port}"


async def _publish(url: str, marker: bytes) -> None:
    nc = await nats.connect(url, connect_timeout=5)
    try:
        js = nc.jetstream()
        await js.add_stream(name=STREAM, subjects=["encryption.test.>"])
        ack = await js.publish("encryption.test.feedback", b'{"email": "' + marker + b'", "text": "kind words"}')
        assert ack.seq == 1
    finally:
        await nc.close()


async def _read_back(url: str) -> bytes | None:
    nc = await nats.connect(url, connect_timeout=5)
    try:
        message = await nc.jetstream().get_msg(STREAM, 1)
    except nats.js.errors.NotFoundError:
        return None
    finally:
        await nc.close()
    return message.data


def _stored_bytes(folder: Path) -> bytes:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert any("msgs" in p.parts for p in files), "no message block was written"
    return b"".join(p.read_bytes() for p in files)


def _marker() -> bytes:
    return f"marker-{uuid.uuid4().hex}@example.org".encode()


def test_a_published_marker_is_nowhere_in_the_encrypted_store_and_reads_back_with_the_key(tmp_path: Path) -> None:
    var, marker = tmp_path / "var", _marker()
    mesh = _nats_as_teei_up_starts_it(var, {})
    mesh.start()
    try:
        asyncio.run(_publish(_url(mesh), marker))
    finally:
        mesh.stop()
    assert marker not in _stored_bytes(var / "nats")
    assert (var / store_encryption.KEY_FILE).stat().st_mode & 0o077 == 0

    again = _nats_as_teei_up_starts_it(var, {})
    again.start()
    try:
        assert marker in (asyncio.run(_read_back(_url(again))) or b"")
    finally:
        again.stop()


def test_a_configured_key_encrypts_and_another_key_reads_nothing(tmp_path: Path) -> None:
    var, marker = tmp_path / "var", _marker()
    mesh = _nats_as_teei_up_starts_it(var, {store_encryption.KEY_VARIABLE: KEY})
    mesh.start()
    try:
        asyncio.run(_publish(_url(mesh), marker))
    finally:
        mesh.stop()
    assert marker not in _stored_bytes(var / "nats")
    assert not (var / store_encryption.KEY_FILE).exists()
    other = _nats_as_teei_up_starts_it(var, {store_encryption.KEY_VARIABLE: KEY[::-1]})
    other.start()
    try:
        assert asyncio.run(_read_back(_url(other))) is None
    finally:
        other.stop()


@pytest.mark.parametrize(
    "key",
    [
        "-" + KEY[1:],  # a generated key begins with `-` once in 64: nats-server read it as a negative number
        "1e5" + KEY[3:],  # …and with digits as a number in exponent form
        "12345678901234567890123456789012345",  # …or as an integer out of range
        "+" + KEY[1:],
    ],
)
def test_a_key_the_configuration_parser_would_misread_still_starts_and_reads_back(tmp_path: Path, key: str) -> None:
    var, marker = tmp_path / "var", _marker()
    mesh = _nats_as_teei_up_starts_it(var, {store_encryption.KEY_VARIABLE: key})
    mesh.start()
    try:
        asyncio.run(_publish(_url(mesh), marker))
    finally:
        mesh.stop()
    assert marker not in _stored_bytes(var / "nats")
    again = _nats_as_teei_up_starts_it(var, {store_encryption.KEY_VARIABLE: key})
    again.start()
    try:
        assert marker in (asyncio.run(_read_back(_url(again))) or b"")
    finally:
        again.stop()


def test_without_the_cipher_the_marker_is_in_the_clear(tmp_path: Path) -> None:
    """The control: the command tilt.yaml ran before, `-js -sd` alone, leaves the payload readable on disk."""
    store, marker = tmp_path / "nats", _marker()
    port, monitor = spec.free_port(), spec.free_port()
    binary = Path(sys.executable).parent / "nats-server"
    command = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not probes.http_ok(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"):
            assert process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server not healthy in time"
            time.sleep(0.05)  # polling interval of a bounded wait for the process we started
        asyncio.run(_publish(f"nats://127.0.0.1:{port}", marker))
    finally:
        process.terminate()
        process.wait(10)
    assert marker in _stored_bytes(store)
