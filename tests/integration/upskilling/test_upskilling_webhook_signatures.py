"""Upskilling webhooks over real gRPC must be signed (Standard Webhooks) with the caller's tenant's secret
for the provider named in the path; a refused delivery stores nothing and emits nothing."""

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

from services.cli import webhooks as secrets_file
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import webhooks
from services.kit.testing import running, tenant
from services.upskilling import bootstrap
from teei.common.v1 import types_pb2
from teei.upskilling.v1 import upskilling_pb2 as pb
from teei.upskilling.v1 import upskilling_pb2_grpc
from tests.integration.upskilling.signing import SECRETS, provision_all
from tests.support import error_reason
from tests.unit.upskilling import support

if TYPE_CHECKING:
    Stub = upskilling_pb2_grpc.UpskillingServiceAsyncStub

Metadata = tuple[tuple[str, str], ...]
ACME = tenant("acme")
GLOBEX = tenant("globex")
BODY = support.body(support.ecornell("course.completed"))
ACME_ECORNELL = SECRETS[("acme", "ecornell")]
# What one applied course completion announces.
COMPLETED = ["upskilling.progress.updated", "upskilling.course.completed"]


@dataclass
class Upskilling:
    """The served connector, its database and its secrets file."""

    stub: Stub
    engine: sa.Engine
    secrets_path: Path

    async def send(
        self, body: bytes, signature: Metadata, caller: Metadata = ACME, provider: str = "ecornell"
    ) -> types_pb2.WebhookAck:
        """Delivers a provider webhook."""
        request = pb.ReceiveWebhookRequest(provider=provider, body=httpbody_pb2.HttpBody(data=body))
        return (await self.stub.ReceiveWebhook(request, metadata=caller + signature)).ack

    async def refused(
        self, body: bytes, signature: Metadata, caller: Metadata = ACME, provider: str = "ecornell"
    ) -> str:
        """Delivers and expects UNAUTHENTICATED; returns the ErrorInfo reason."""
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.send(body, signature, caller, provider)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, caught.value.details()
        return error_reason(caught.value)

    async def stored(self, caller: Metadata = ACME) -> int:
        """How many progress records the caller's tenant holds."""
        return len((await self.stub.ListProgress(pb.ListProgressRequest(), metadata=caller)).progress)

    def outbox(self) -> list[str]:
        """The types of the events waiting in the outbox."""
        with db.UnitOfWork(self.engine).begin() as session:
            return [envelope.type for envelope in events.pending(session)]


def signed(secret: str, body: bytes = BODY, *, message_id: str | None = None, timestamp: int | None = None) -> Metadata:
    """The delivery's signature headers as call metadata."""
    return webhooks.signed_metadata(secret, body, message_id=message_id, timestamp=timestamp)


@pytest.fixture
async def upskilling(service_config: ServiceConfig) -> AsyncIterator[Upskilling]:
    """The connector with one secret per tenant and provider in the var folder's secrets file."""
    provision_all(service_config.var_dir)
    service = bootstrap.build(service_config)
    assert service.engine is not None
    async with running(service) as (_, channel):
        path = webhooks.secrets_path(service_config.var_dir)
        yield Upskilling(upskilling_pb2_grpc.UpskillingServiceStub(channel), service.engine, path)


async def test_a_signed_delivery_is_stored_and_announced_under_its_webhook_id(upskilling: Upskilling) -> None:
    ack = await upskilling.send(BODY, signed(ACME_ECORNELL, message_id="msg_signed_1"))
    assert (ack.delivery_id, ack.duplicate) == ("msg_signed_1", False)
    assert await upskilling.stored() == 1
    assert upskilling.outbox() == COMPLETED


Refusal = Callable[[], tuple[bytes, Metadata, Metadata, str]]
REFUSALS: dict[str, tuple[Refusal, str]] = {
    "tampered body": (lambda: (BODY + b" ", signed(ACME_ECORNELL), ACME, "ecornell"), "WEBHOOK_SIGNATURE_INVALID"),
    "tampered id": (
        lambda: (
            BODY,
            tuple((n, "msg_x" if n == "webhook-id" else v) for n, v in signed(ACME_ECORNELL)),
            ACME,
            "ecornell",
        ),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "expired": (
        lambda: (BODY, signed(ACME_ECORNELL, timestamp=int(time.time()) - 360), ACME, "ecornell"),
        "WEBHOOK_EXPIRED",
    ),
    "future-dated": (
        lambda: (BODY, signed(ACME_ECORNELL, timestamp=int(time.time()) + 360), ACME, "ecornell"),
        "WEBHOOK_FROM_FUTURE",
    ),
    "unsigned": (lambda: (BODY, (), ACME, "ecornell"), "WEBHOOK_UNSIGNED"),
    "wrong secret": (
        lambda: (BODY, signed(webhooks.generate_secret()), ACME, "ecornell"),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "other tenant's secret": (
        lambda: (BODY, signed(SECRETS[("globex", "ecornell")]), ACME, "ecornell"),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "other tenant's token": (lambda: (BODY, signed(ACME_ECORNELL), GLOBEX, "ecornell"), "WEBHOOK_SIGNATURE_INVALID"),
    "other provider's secret": (
        lambda: (BODY, signed(SECRETS[("acme", "itslearning")]), ACME, "ecornell"),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
    "signed for one provider, sent to another": (
        lambda: (support.body(support.generic("completed")), signed(ACME_ECORNELL), ACME, "generic"),
        "WEBHOOK_SIGNATURE_INVALID",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_delivery_not_signed_by_the_tenants_provider_secret_is_refused_and_leaves_no_trace(
    upskilling: Upskilling, case: str
) -> None:
    build, reason = REFUSALS[case]
    body, signature, caller, provider = build()
    assert await upskilling.refused(body, signature, caller, provider) == reason
    assert (await upskilling.stored(ACME), await upskilling.stored(GLOBEX)) == (0, 0)
    assert upskilling.outbox() == []


async def test_a_tenant_without_a_secret_for_the_provider_is_refused_naming_the_cause(upskilling: Upskilling) -> None:
    initech = tenant("initech")
    assert await upskilling.refused(BODY, signed(ACME_ECORNELL), initech) == "WEBHOOK_NO_SECRET"
    assert await upskilling.stored(initech) == 0


async def test_rotation_accepts_both_secrets_while_listed_and_the_old_one_not_after_removal(
    upskilling: Upskilling,
) -> None:
    old, new = ACME_ECORNELL, secrets_file.add_secret(upskilling.secrets_path, "acme", "ecornell")
    assert not (await upskilling.send(BODY, signed(old, message_id="msg_old"))).duplicate
    assert not (await upskilling.send(BODY, signed(new, message_id="msg_new"))).duplicate
    assert secrets_file.remove_secret(upskilling.secrets_path, "acme", "ecornell", webhooks.fingerprint(old)) == 1
    assert await upskilling.refused(BODY, signed(old, message_id="msg_old_again")) == "WEBHOOK_SIGNATURE_INVALID"
    assert (await upskilling.send(BODY, signed(new, message_id="msg_new_again"))).delivery_id == "msg_new_again"


async def test_five_deliveries_of_one_webhook_id_store_and_announce_once(upskilling: Upskilling) -> None:
    first, now = signed(ACME_ECORNELL, message_id="msg_retried"), int(time.time())
    resent = [first, first, *(signed(ACME_ECORNELL, message_id="msg_retried", timestamp=now + i) for i in (1, 2, 3))]
    acks = [await upskilling.send(BODY, signature) for signature in resent]
    assert [ack.duplicate for ack in acks] == [False, True, True, True, True]
    assert {ack.delivery_id for ack in acks} == {"msg_retried"}
    assert await upskilling.stored() == 1
    assert upskilling.outbox() == COMPLETED
