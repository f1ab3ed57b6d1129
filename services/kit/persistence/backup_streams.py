"""JetStream in a backup: each stream's messages exported through a non-acking ephemeral consumer (so the
undelivered and the dead-lettered survive), and each durable consumer's position. A restore republishes
the messages in order into fresh streams and recreates every consumer at its first unacknowledged
message: what was pending is delivered again, and the consuming service's inbox drops what it applied."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import nats
from nats.js import JetStreamContext
from nats.js import api as js_api

from services.kit.messaging import eventbus, store_encryption

STREAMS = (eventbus.STREAM, eventbus.DLQ_STREAM)
CONSUMERS_FILE = "consumers.json"
_BATCH = 1000


@dataclass(frozen=True)
class ConsumerState:
    """A durable consumer: its stream, its configuration and the last stream sequence it has acknowledged."""

    stream: str
    config: dict[str, Any]
    ack_floor: int


async def consumer_states(js: JetStreamContext) -> list[ConsumerState]:
    """Every durable consumer's position; taken before the databases, so a restore can only redeliver."""
    states = []
    for stream in STREAMS:
        for info in await _consumers(js, stream):
            if info.config.durable_name:
                floor = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
                states.append(ConsumerState(stream, info.config.as_dict(), floor))
    return states


async def _consumers(js: JetStreamContext, stream: str) -> list[js_api.ConsumerInfo]:
    try:
        return await js.consumers_info(stream)
    except nats.js.errors.NotFoundError:
        return []


async def export(js: JetStreamContext, folder: Path, states: list[ConsumerState]) -> dict[str, int]:
    """Writes `<stream>.jsonl` per stream and the consumers' positions; the message count per stream."""
    counts = {stream: await _export_stream(js, stream, folder / f"{stream}.jsonl") for stream in STREAMS}
    _write(folder / CONSUMERS_FILE, json.dumps([asdict(s) for s in states], indent=2, sort_keys=True))
    return counts


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def _export_stream(js: JetStreamContext, stream: str, path: Path) -> int:
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        _write(path, "")
        return 0
    last, count = info.state.last_seq, 0
    with path.open("w") as out:
        if info.state.messages == 0:
            return 0
        config = js_api.ConsumerConfig(
            ack_policy=js_api.AckPolicy.NONE, deliver_policy=js_api.DeliverPolicy.ALL, inactive_threshold=60.0
        )
        psub = await js.pull_subscribe("", stream=stream, config=config)
        try:
            seq = 0
            while seq < last:
                for msg in await psub.fetch(batch=_BATCH, timeout=5.0):
                    seq = msg.metadata.sequence.stream
                    if seq > last:
                        break
                    out.write(json.dumps(_message(msg, seq)) + "\n")
                    count += 1
        finally:
            await psub.unsubscribe()
    return count


def _message(msg: Any, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "subject": msg.subject,
        "headers": msg.headers or {},
        "data": base64.b64encode(msg.data).decode(),
    }


async def import_into(js: JetStreamContext, folder: Path) -> dict[str, int]:
    """Republishes every exported message and recreates the consumers at their first unacknowledged one."""
    await eventbus.ensure_stream(js)
    await eventbus.ensure_dlq_stream(js)
    imported: dict[str, list[Imported]] = {}
    for stream in STREAMS:
        imported[stream] = await _import_stream(js, stream, folder / f"{stream}.jsonl")
    for raw in json.loads((folder / CONSUMERS_FILE).read_text()):
        state = ConsumerState(**raw)
        await _restore_consumer(js, state, imported.get(state.stream, []))
    return {stream: len(items) for stream, items in imported.items()}


@dataclass(frozen=True)
class Imported:
    """A republished message: its sequence in the backed-up stream and in the restored one."""

    old_seq: int
    new_seq: int
    subject: str


async def _import_stream(js: JetStreamContext, stream: str, path: Path) -> list[Imported]:
    imported: list[Imported] = []
    with path.open() as lines:
        for line in lines:
            item = json.loads(line)
            headers = _headers(stream, item["headers"])
            ack = await js.publish(item["subject"], base64.b64decode(item["data"]), stream=stream, headers=headers)
            if ack.duplicate:
                raise RuntimeError(f"{path.name}: message {item['seq']} was refused as a duplicate")
            imported.append(Imported(int(item["seq"]), ack.seq, item["subject"]))
    return imported


def _headers(stream: str, headers: dict[str, str]) -> dict[str, str] | None:
    # A dead letter keeps the failed event's Nats-Msg-Id; two consumers' dead letters of one event would be
    # merged by the stream's de-duplication on the way back in. The dead-letter tools never read it.
    if stream == eventbus.DLQ_STREAM:
        headers = {name: value for name, value in headers.items() if name != "Nats-Msg-Id"}
    return headers or None


async def _restore_consumer(js: JetStreamContext, state: ConsumerState, imported: list[Imported]) -> None:
    """The consumer as it was configured (so the service binds to it unchanged), then advanced past what it
    had acknowledged by acknowledging exactly those messages again; the rest stays undelivered."""
    config = js_api.ConsumerConfig.from_response(dict(state.config))
    await js.add_consumer(state.stream, config)
    filters = config.filter_subjects or ([config.filter_subject] if config.filter_subject else [">"])
    acked = sum(1 for m in imported if m.old_seq <= state.ack_floor and any(_matches(f, m.subject) for f in filters))
    if acked == 0 or not config.durable_name:
        return
    psub = await js.pull_subscribe_bind(durable=config.durable_name, stream=state.stream)
    try:
        while acked > 0:
            messages = await psub.fetch(batch=min(_BATCH, acked), timeout=10.0)
            for msg in messages[:-1]:
                await msg.ack()
            await messages[-1].ack_sync()  # acknowledgements are handled in order: the last confirms them all
            acked -= len(messages)
    finally:
        await psub.unsubscribe()


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":  # noqa: S105 - a subject wildcard, not a password
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on `url` for the duration of the block."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@contextmanager
def private_server(store: Path, port: int, *, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """A NATS server of our own over a mesh's JetStream folder (the mesh's NATS must not run on it), on
    `port`; its URL for the block. Used to back up a stopped mesh and to restore into an empty one. It is
    started as `teei up` starts the mesh's, encrypted with the same key (TEEI_NATS_STORE_KEY(_FILE) in
    `environ`, else the var folder's nats-store.key), so it reads the mesh's store and writes one the mesh
    reads; what it serves through the JetStream API is decrypted."""
    environ = os.environ if environ is None else environ
    binary = Path(sys.executable).parent / "nats-server"
    store.mkdir(parents=True, exist_ok=True)
    config = store_encryption.write_config(store / store_encryption.CONFIG_FILE, environ)
    env = {**environ, **store_encryption.server_environ(environ, store.parent)}
    cmd = [str(binary), "-c", str(config), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [*cmd, "-n", "teei-local"], env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            _until_listening(port, process, output, deadline=time.monotonic() + 20.0)
            _require_decrypted(output, store)
            yield f"nats://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(20)


def _require_decrypted(output: IO[bytes], store: Path) -> None:
    """nats-server skips a stream it cannot decrypt (another key) and serves on without it: a backup would
    then hold no messages, and a restore write beside them. Its start-up lines (written before it listens)
    say so."""
    output.seek(0)
    if b"Error decrypting" in output.read():
        raise RuntimeError(
            f"{store}: nats-server cannot decrypt the JetStream store with this key: the store was written with"
            f" another {store_encryption.KEY_VARIABLE} or {store_encryption.KEY_FILE}"
        )


def _until_listening(port: int, process: subprocess.Popen[bytes], output: IO[bytes], *, deadline: float) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output.seek(0)
                said = output.read()[-600:].decode(errors="replace").strip()
                problem = f"nats-server did not start on port {port} (exit {process.poll()}): {said}"
                raise RuntimeError(problem) from None
            time.sleep(0.05)  # polling interval of a bounded wait for the process we started
            continue
        return
