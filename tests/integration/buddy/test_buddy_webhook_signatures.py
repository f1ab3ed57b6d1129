"""Buddy webhooks over real gRPC must be signed (Standard Webhooks) with the caller's tenant's secret.

The bearer token names the tenant; the signature proves the body and its time came from the holder
of that tenant's Buddy secret. A refused delivery stores nothing and emits nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import sqlalchemy as sa
from google.api import httpbody_pb2

from services.buddy import bootstrap
from services.cli import webhooks as secrets_file
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import webhooks
from services.kit.testing import running, tenant
from teei.buddy.v1 import buddy_pb2, buddy_pb2_grpc
from teei.common.v1 import types_pb2
from tests.integration.buddy.signing import SECRETS
from tests.support import error_reason
from tests.unit.buddy.samples import delivery

if TYPE_CHECKING:
    Stub = buddy_pb2_grpc.BuddyServiceAsyncStub

Metadata = tuple[tuple[str, str], ...]
ACME = tenant("acme")
GLOBEX = tenant("globex")
BODY = delivery("matches")


@dataclass
class Buddy:
    """The served connector, its database and its secrets file."""

    stub: Stub
    engine: sa.Engine
    secrets_path: Path

    async def send(self, body: bytes, signature: Metadata, caller: Metadata = ACME) -> types_pb2.WebhookAck:
        """Delivers a match webhook."""
        request = buddy_pb2.ReceiveWebhookRequest(kind="matches", body=httpbody_pb2.HttpBody(data=body))
        return (await self.stub.ReceiveWebhook(request, metadata=caller + signature)).ack

    async def refused(self, body: bytes, signature: Metadata, caller: Metadata = ACME) -> str:
        """Delivers and expects UNAUTHENTICATED; returns the ErrorInfo reason."""
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.send(body, signature, caller)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, caught.value.details()
        return error_reason(caught.value)

    async def stored(self, caller: Metadata = ACME) -> int:
        """How many matches the caller's tenant holds."""
        return len((await self.stub.ListMatches(buddy_pb2.ListMatchesRequest(), metadata=caller)).matches)

    def outbox(self) -> list[str]:
        """The types of the events waiting in the outbox."""
        with db.UnitOfWork(self.engine).begin() as session:
            return [envelope.type for envelope in events.pending(session)]


def signed(secret: str, body: bytes = BODY, *, message_id: str | None = None, timestamp: int | None = None) -> Metadata:
    """The delivery's signature headers as call metadata."""
    return webhooks.signed_metadata(secret, body, message_id=message_id, timestamp=timestamp)


@pytest.fixture
async def buddy(service_config: ServiceConfig) -> AsyncIterator[Buddy]:
    """The service with one Buddy secret per tenant in the var folder's secrets file."""
    for name, secret in SECRETS.items():
        secrets_file.provision(service_config.var_dir, name, "buddy", secret)
    service = bootstrap.build(service_config)
    assert service.engine is not None
    async with running(service) as (_, channel):
        path = webhooks.secrets_path(service_config.var_dir)
        yield Buddy(buddy_pb2_grpc.BuddyServiceStub(channel), service.engine, path)


async def test_a_signed_delivery_is_stored_and_announced_under_its_webhook_id(buddy: Buddy) -> None:
    ack = await buddy.send(BODY, signed(SECRETS["acme"], message_id="msg_signed_1"))
    assert (ack.delivery_id, ack.duplicate) == ("msg_signed_1", False)
    assert await buddy.stored() == 1
    assert buddy.outbox() == ["buddy.match.created"]


Refusal = Callable[[], tuple[bytes, Metadata, Metadata]]
REFUSALS: dict[str, tuple[Refusal, str]] = {
    "tampered body": (lambda: (BODY + b" ", signed(SECRETS["acme"]), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "tampered id": (
        lambda: (BODY, tuple((n, "msg_x" if n == "webhook-id" else v) for n, v in signed(SECRETS["acme"])), ACME),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "expired": (lambda: (BODY, signed(SECRETS["acme"], timestamp=int(time.time()) - 360), ACME), "WEBHOOK_EXPIRED"),
    "future-dated": (
        lambda: (BODY, signed(SECRETS["acme"], timestamp=int(time.time()) + 360), ACME),
        "WEBHOOK_FROM_FUTURE",
    ),
    "unsigned": (lambda: (BODY, (), ACME), "WEBHOOK_UNSIGNED"),
    "wrong secret": (lambda: (BODY, signed(webhooks.generate_secret()), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "other tenant's secret": (lambda: (BODY, signed(SECRETS["globex"]), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "other tenant's token": (lambda: (BODY, signed(SECRETS["acme"]), GLOBEX), "WEBHOOK_SIGNATURE_INVALID"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_delivery_not_signed_by_the_tenants_secret_is_refused_and_leaves_no_trace(
    buddy: Buddy, case: str
) -> None:
    build, reason = REFUSALS[case]
    body, signature, caller = build()
    assert await buddy.refused(body, signature, caller) == reason
    assert (await buddy.stored(ACME), await buddy.stored(GLOBEX)) == (0, 0)
    assert buddy.outbox() == []


async def test_a_tenant_without_a_buddy_secret_is_refused_naming_the_cause(buddy: Buddy) -> None:
    initech = tenant("initech")
    assert await buddy.refused(BODY, signed(SECRETS["acme"]), initech) == "WEBHOOK_NO_SECRET"
    assert await buddy.stored(initech) == 0


async def test_rotation_accepts_both_secrets_while_listed_and_the_old_one_not_after_removal(buddy: Buddy) -> None:
    old, new = SECRETS["acme"], secrets_file.add_secret(buddy.secrets_path, "acme", "buddy")
    assert not (await buddy.send(BODY, signed(old, message_id="msg_old"))).duplicate
    assert not (await buddy.send(BODY, signed(new, message_id="msg_new"))).duplicate
    assert secrets_file.remove_secret(buddy.secrets_path, "acme", "buddy", webhooks.fingerprint(old)) == 1
    assert await buddy.refused(BODY, signed(old, message_id="msg_old_again")) == "WEBHOOK_SIGNATURE_INVALID"
    assert (await buddy.send(BODY, signed(new, message_id="msg_new_again"))).delivery_id == "msg_new_again"


async def test_five_deliveries_of_one_webhook_id_store_and_announce_once(buddy: Buddy) -> None:
    first, now = signed(SECRETS["acme"], message_id="msg_retried"), int(time.time())
    resent = [first, first, *(signed(SECRETS["acme"], message_id="msg_retried", timestamp=now + i) for i in (1, 2, 3))]
    acks = [await buddy.send(BODY, signature) for signature in resent]
    assert [ack.duplicate for ack in acks] == [False, True, True, True, True]
    assert {ack.delivery_id for ack in acks} == {"msg_retried"}
    assert await buddy.stored() == 1
    assert buddy.outbox() == ["buddy.match.created"]
