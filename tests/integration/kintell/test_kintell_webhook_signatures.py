"""Kintell webhooks over real gRPC must be signed (Standard Webhooks) with the caller's tenant's secret.

The bearer token names the tenant; the signature proves the body and its time came from the holder
of that tenant's Kintell secret. A refused delivery stores nothing and emits nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import grpc
import pytest
import sqlalchemy as sa
from google.api import httpbody_pb2

from services.cli import webhooks as secrets_file
from services.kintell import bootstrap
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import webhooks
from services.kit.testing import running, tenant
from teei.common.v1 import types_pb2
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from tests.support import error_reason
from tests.unit.kintell.samples import session_body

Stub: TypeAlias = "kintell_pb2_grpc.KintellServiceAsyncStub"
Metadata = tuple[tuple[str, str], ...]
ACME = tenant("acme", role="company_admin", subject="kintell-integration")
GLOBEX = tenant("globex", role="company_admin", subject="kintell-integration")
BODY = session_body()


@dataclass
class Kintell:
    """The served connector, its database and the secrets each tenant holds."""

    stub: Stub
    engine: sa.Engine
    secrets_path: Path
    acme: str
    globex: str

    async def send(self, body: bytes, signature: Metadata, caller: Metadata = ACME) -> types_pb2.WebhookAck:
        """Delivers a session-completed webhook."""
        request = kintell_pb2.ReceiveSessionCompletedRequest(body=httpbody_pb2.HttpBody(data=body))
        response = await self.stub.ReceiveSessionCompleted(request, metadata=caller + signature)
        return response.ack

    async def refused(self, body: bytes, signature: Metadata, caller: Metadata = ACME) -> str:
        """Delivers and expects UNAUTHENTICATED; returns the ErrorInfo reason."""
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.send(body, signature, caller)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, caught.value.details()
        return error_reason(caught.value)

    async def stored(self, caller: Metadata = ACME) -> int:
        """How many sessions the caller's tenant holds."""
        return len((await self.stub.ListSessions(kintell_pb2.ListSessionsRequest(), metadata=caller)).sessions)

    def outbox(self) -> list[str]:
        """The types of the events waiting in the outbox."""
        with db.UnitOfWork(self.engine).begin() as session:
            return [envelope.type for envelope in events.pending(session)]


def signed(secret: str, body: bytes = BODY, *, message_id: str | None = None, timestamp: int | None = None) -> Metadata:
    """The delivery's signature headers as call metadata."""
    return webhooks.signed_metadata(secret, body, message_id=message_id, timestamp=timestamp)


@pytest.fixture
async def kintell(service_config: ServiceConfig) -> AsyncIterator[Kintell]:
    """The connector with one Kintell secret per tenant in the var folder's secrets file."""
    acme = secrets_file.provision(service_config.var_dir, "acme", "kintell")
    globex = secrets_file.provision(service_config.var_dir, "globex", "kintell")
    service = bootstrap.build(service_config)
    assert service.engine is not None
    async with running(service) as (_, channel):
        path = webhooks.secrets_path(service_config.var_dir)
        yield Kintell(kintell_pb2_grpc.KintellServiceStub(channel), service.engine, path, acme, globex)


async def test_a_signed_delivery_is_stored_and_announced_under_its_webhook_id(kintell: Kintell) -> None:
    ack = await kintell.send(BODY, signed(kintell.acme, message_id="msg_signed_1"))
    assert (ack.delivery_id, ack.duplicate) == ("msg_signed_1", False)
    assert await kintell.stored() == 1
    assert kintell.outbox() == ["kintell.session.completed"]


Refusal = Callable[[Kintell], tuple[bytes, Metadata, Metadata]]
REFUSALS: dict[str, tuple[Refusal, str]] = {
    "tampered body": (lambda k: (BODY + b" ", signed(k.acme), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "tampered id": (
        lambda k: (BODY, tuple((n, "msg_other" if n == "webhook-id" else v) for n, v in signed(k.acme)), ACME),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "expired": (lambda k: (BODY, signed(k.acme, timestamp=int(time.time()) - 360), ACME), "WEBHOOK_EXPIRED"),
    "future-dated": (lambda k: (BODY, signed(k.acme, timestamp=int(time.time()) + 360), ACME), "WEBHOOK_FROM_FUTURE"),
    "unsigned": (lambda k: (BODY, (), ACME), "WEBHOOK_UNSIGNED"),
    "wrong secret": (lambda k: (BODY, signed(webhooks.generate_secret()), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "other tenant's secret": (lambda k: (BODY, signed(k.globex), ACME), "WEBHOOK_SIGNATURE_INVALID"),
    "other tenant's token": (lambda k: (BODY, signed(k.acme), GLOBEX), "WEBHOOK_SIGNATURE_INVALID"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_delivery_not_signed_by_the_tenants_secret_is_refused_and_leaves_no_trace(
    kintell: Kintell, case: str
) -> None:
    build, reason = REFUSALS[case]
    body, signature, caller = build(kintell)
    assert await kintell.refused(body, signature, caller) == reason
    assert (await kintell.stored(ACME), await kintell.stored(GLOBEX)) == (0, 0)
    assert kintell.outbox() == []


async def test_a_tenant_without_a_kintell_secret_is_refused_naming_the_cause(kintell: Kintell) -> None:
    initech = tenant("initech")
    assert await kintell.refused(BODY, signed(kintell.acme), initech) == "WEBHOOK_NO_SECRET"
    assert await kintell.stored(initech) == 0


async def test_rotation_accepts_both_secrets_while_listed_and_the_old_one_not_after_removal(kintell: Kintell) -> None:
    new = secrets_file.add_secret(kintell.secrets_path, "acme", "kintell")
    assert not (await kintell.send(BODY, signed(kintell.acme, message_id="msg_old"))).duplicate
    assert (await kintell.send(BODY, signed(new, message_id="msg_new"))).duplicate is False
    removed = secrets_file.remove_secret(kintell.secrets_path, "acme", "kintell", webhooks.fingerprint(kintell.acme))
    assert removed == 1
    assert await kintell.refused(BODY, signed(kintell.acme, message_id="msg_old_again")) == "WEBHOOK_SIGNATURE_INVALID"
    assert (await kintell.send(BODY, signed(new, message_id="msg_new_again"))).delivery_id == "msg_new_again"


async def test_five_deliveries_of_one_webhook_id_store_and_announce_once(kintell: Kintell) -> None:
    first = signed(kintell.acme, message_id="msg_retried")
    now = int(time.time())
    resent = [first, first, signed(kintell.acme, message_id="msg_retried", timestamp=now + 1)]
    resent += [signed(kintell.acme, message_id="msg_retried", timestamp=now + 2 * i) for i in (2, 3)]
    acks = [await kintell.send(BODY, signature) for signature in resent]
    assert [ack.duplicate for ack in acks] == [False, True, True, True, True]
    assert {ack.delivery_id for ack in acks} == {"msg_retried"}
    assert await kintell.stored() == 1
    assert kintell.outbox() == ["kintell.session.completed"]
