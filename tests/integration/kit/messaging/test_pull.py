"""The consumer's pull pump against a real NATS JetStream server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import api as js_api

from services.kit.messaging.pull import Puller

STREAM, CONSUMER, SUBJECT = "PULL_TEST", "pump", "pull.test"


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    js = client.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(STREAM)
    await js.add_stream(name=STREAM, subjects=[SUBJECT])
    await js.add_consumer(STREAM, js_api.ConsumerConfig(durable_name=CONSUMER, ack_policy=js_api.AckPolicy.EXPLICIT))
    yield client
    await client.close()


async def _puller(nc: Client, *, expires_seconds: float = 5.0) -> Puller:
    puller = Puller(nc, stream=STREAM, consumer=CONSUMER, batch=8, expires_seconds=expires_seconds)
    await puller.start()
    return puller


async def test_a_message_answering_an_older_open_request_is_handed_out(nc: Client) -> None:
    puller = await _puller(nc)
    try:
        # An older request to the same inbox, still open on the server: JetStream routes the next
        # message to it, not to the request `next_batch` sends.
        orphan = {"batch": 1, "expires": 30_000_000_000}
        await nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{CONSUMER}", json.dumps(orphan).encode(), reply=puller.inbox
        )
        await nc.flush()
        await nc.jetstream().publish(SUBJECT, b"one")
        messages = await puller.next_batch(wait_seconds=20.0)
        assert [m.data for m in messages] == [b"one"]
        await messages[0].ack()
    finally:
        await puller.close()


async def test_a_request_that_expired_is_sent_again(nc: Client) -> None:
    puller = await _puller(nc, expires_seconds=0.2)
    try:
        assert await puller.next_batch(wait_seconds=1.0) == []  # the request ends with a 408 status
        await nc.jetstream().publish(SUBJECT, b"late")
        received: list[bytes] = []
        while not received:  # each round re-opens the request that expired
            received = [m.data for m in await puller.next_batch(wait_seconds=1.0)]
        assert received == [b"late"]
    finally:
        await puller.close()


async def test_a_batch_takes_what_arrived_up_to_its_size(nc: Client) -> None:
    js = nc.jetstream()
    for i in range(12):
        await js.publish(SUBJECT, str(i).encode())
    puller = await _puller(nc)
    try:
        seen: list[bytes] = []
        while len(seen) < 12:
            batch = await puller.next_batch(wait_seconds=5.0)
            assert 0 < len(batch) <= 8
            for msg in batch:
                await msg.ack()
            seen += [m.data for m in batch]
        assert seen == [str(i).encode() for i in range(12)]
    finally:
        await puller.close()
