"""Profile consumes `privacy.subject.erased` over real NATS: a profile re-created about a person after their
erasure (same company and e-mail, so the same profile id) goes when the gateway's event arrives; another
person, the same e-mail in another company, and an event of another company are left alone; a malformed
event is dead-lettered while the consumer goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import nats
import pytest
import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.messaging import erasures, events
from services.kit.testing import running, tenant
from services.profile import bootstrap
from teei.common.v1 import types_pb2
from teei.profile.v1 import events_pb2 as profile_events
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.integration.kit.messaging.erased_subjects import (
    FAST,
    applied,
    consuming,
    dead_letters,
    erased,
    eventually,
    publish,
)
from tests.integration.profile.support import GLOBEX, Stub, create, error_of, get

OPERATOR = tenant("acme", role="super_admin", subject="op-1")
CONSUMER = erasures.consumer_name(bootstrap.NAME)


@dataclass(frozen=True)
class Profile:
    """The profile service served over gRPC, its consumers on NATS, and its database."""

    stub: Stub
    js: nats.js.JetStreamContext
    engine: sa.Engine

    async def apply(self, envelope: events.Envelope) -> None:
        """Publishes the event and waits until the erasure consumer has applied it."""
        await publish(self.js, envelope)
        await eventually(applied(self.engine, bootstrap.NAME, envelope.id), bool)


@pytest.fixture
async def profile(service_config: ServiceConfig, nats_url: str) -> AsyncIterator[Profile]:
    service = bootstrap.build(service_config)
    assert service.engine is not None
    async with running(service) as (_, channel), consuming(nats_url, service) as js:
        yield Profile(profile_pb2_grpc.ProfileServiceStub(channel), js, service.engine)


async def _erase_by_rpc(stub: Stub, profile_id: str) -> None:
    subject = types_pb2.DataSubject(profile_id=profile_id)
    request = profile_pb2.EraseSubjectDataRequest(subject=subject, privacy_request_id="pr-1")
    assert (await stub.EraseSubjectData(request, metadata=OPERATOR)).records_erased >= 1


async def _is_gone(stub: Stub, profile_id: str) -> bool:
    error = await error_of(stub.GetProfile(profile_pb2.GetProfileRequest(profile_id=profile_id), metadata=OPERATOR))
    return error.code() == grpc.StatusCode.NOT_FOUND


async def test_a_profile_recreated_after_the_erasure_goes_when_the_event_arrives(profile: Profile) -> None:
    stub = profile.stub
    ada = await create(stub, "ada@example.org")
    bo = await create(stub, "bo@example.org")
    ada_elsewhere = await create(stub, "ada@example.org", metadata=GLOBEX)
    await _erase_by_rpc(stub, ada.profile_id)
    again = await create(stub, "ada@example.org")  # e.g. an import finishing after profile's part of the erasure
    assert again.profile_id == ada.profile_id

    await profile.apply(erased("acme", ada.profile_id))
    assert await _is_gone(stub, ada.profile_id)
    assert (await get(stub, bo.profile_id)).email == "bo@example.org"
    assert (await get(stub, ada_elsewhere.profile_id, GLOBEX)).email == "ada@example.org"


async def test_an_event_of_another_company_erases_nothing_here(profile: Profile) -> None:
    ada = await create(profile.stub, "ada@example.org")
    await profile.apply(erased("globex", ada.profile_id))
    assert (await get(profile.stub, ada.profile_id)).email == "ada@example.org"


def _dressed_as_erasure() -> events.Envelope:
    payload = profile_events.MilestoneReached(profile_id="0f8fad5b-d9cb-469f-a165-70867728950e")
    envelope = events.new_event(payload, source="teei/test", tenant="acme", subject=payload.profile_id)
    envelope.type = erasures.EVENT_TYPE
    return envelope


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_goes_on(profile: Profile) -> None:
    ada = await create(profile.stub, "ada@example.org")
    wrong_payload = _dressed_as_erasure()
    someone_else = erased("acme", ada.profile_id)
    someone_else.subject = "0f8fad5b-d9cb-469f-a165-70867728950e"  # the envelope names another person
    for envelope in (wrong_payload, someone_else):
        await publish(profile.js, envelope)
    letters = await dead_letters(profile.js, 2)
    assert sorted((letter.consumer, letter.event_id) for letter in letters) == sorted(
        [(CONSUMER, wrong_payload.id), (CONSUMER, someone_else.id)]
    )
    assert {letter.attempts for letter in letters} == {FAST.max_deliver}
    assert all("malformed" in letter.last_error for letter in letters)
    assert (await get(profile.stub, ada.profile_id)).email == "ada@example.org"

    await profile.apply(erased("acme", ada.profile_id))  # the consumer is still running
    assert await _is_gone(profile.stub, ada.profile_id)
