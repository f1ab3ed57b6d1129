"""Every profile RPC over real gRPC: behaviour, malformed/oversized/replayed input, tenancy, conflicts, merges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

import grpc
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import tenant
from services.profile import bootstrap
from services.profile.tables import merges
from teei.common.v1 import types_pb2
from teei.profile.v1 import events_pb2, profile_pb2, profile_pb2_grpc

ACME, GLOBEX = tenant("acme"), tenant("globex")
Stub: TypeAlias = "profile_pb2_grpc.ProfileServiceAsyncStub"
KINTELL = types_pb2.IDENTITY_PROVIDER_KINTELL
MISSING = "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    info, fields = error_details_pb2.ErrorInfo(), []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return info, fields


async def _create(stub: Stub, email: str, metadata: tuple[tuple[str, str], ...] = ACME) -> profile_pb2.Profile:
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email))
    return (await stub.CreateProfile(request, metadata=metadata)).profile


def _link(profile_id: str, external_id: str, provider: int = KINTELL) -> profile_pb2.LinkExternalIdRequest:
    given = profile_pb2.ExternalId(provider=provider, external_id=external_id)  # type: ignore[arg-type]
    return profile_pb2.LinkExternalIdRequest(profile_id=profile_id, external_id=given)


def _counter(profile_id: str, name: str, delta: int, request_id: str = "") -> profile_pb2.IncrementCounterRequest:
    return profile_pb2.IncrementCounterRequest(profile_id=profile_id, counter=name, delta=delta, request_id=request_id)


def _enrol(profile_id: str, programme: int, status: int, **times: int) -> profile_pb2.UpsertEnrolmentRequest:
    enrolment = profile_pb2.Enrolment(programme=programme, status=status)  # type: ignore[arg-type]
    for name, seconds in times.items():
        getattr(enrolment, name).seconds = seconds
    return profile_pb2.UpsertEnrolmentRequest(profile_id=profile_id, enrolment=enrolment)


@pytest.fixture
def engine(service_config: ServiceConfig, profiles: Stub) -> Iterator[sa.Engine]:
    """The running service's own database, to check audit rows and the outbox."""
    engine = db.create_engine(bootstrap.database_url(service_config))
    yield engine
    engine.dispose()


async def test_link_external_id_is_an_idempotent_upsert(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    first = await profiles.LinkExternalId(_link(ada.profile_id, " k-1 "), metadata=ACME)
    again = await profiles.LinkExternalId(_link(ada.profile_id, "k-1"), metadata=ACME)
    assert (first.created, again.created) == (True, False)
    assert [(e.provider, e.external_id) for e in again.profile.external_ids] == [(KINTELL, "k-1")]
    fetched = await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada.profile_id), metadata=ACME)
    assert list(fetched.profile.external_ids) == list(again.profile.external_ids)


async def test_an_external_id_bound_to_another_profile_is_an_explicit_conflict(profiles: Stub) -> None:
    ada, bob = await _create(profiles, "ada@example.org"), await _create(profiles, "bob@example.org")
    await profiles.LinkExternalId(_link(ada.profile_id, "k-1"), metadata=ACME)
    error = await _error(profiles.LinkExternalId(_link(bob.profile_id, "k-1"), metadata=ACME))
    assert error.code() == grpc.StatusCode.ABORTED
    info, _ = _details(error)
    assert info.reason == "EXTERNAL_ID_CONFLICT"
    assert (info.metadata["profile_id"], info.metadata["bound_profile_id"]) == (bob.profile_id, ada.profile_id)
    other_provider = await profiles.LinkExternalId(
        _link(bob.profile_id, "k-1", types_pb2.IDENTITY_PROVIDER_BUDDY), metadata=ACME
    )
    assert other_provider.created


@pytest.mark.parametrize(
    ("provider", "external_id", "field"),
    [
        (types_pb2.IDENTITY_PROVIDER_UNSPECIFIED, "k-1", "external_id.provider"),
        (KINTELL, "   ", "external_id.external_id"),
        (KINTELL, "x" * 256, "external_id.external_id"),
        (KINTELL, "bad\nid", "external_id.external_id"),
    ],
)
async def test_malformed_external_ids_are_refused(profiles: Stub, provider: int, external_id: str, field: str) -> None:
    ada = await _create(profiles, "ada@example.org")
    error = await _error(profiles.LinkExternalId(_link(ada.profile_id, external_id, provider), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in _details(error)[1]


async def test_the_same_external_id_may_be_bound_in_another_company(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    ada_globex = await _create(profiles, "ada@example.org", GLOBEX)
    await profiles.LinkExternalId(_link(ada.profile_id, "k-1"), metadata=ACME)
    reply = await profiles.LinkExternalId(_link(ada_globex.profile_id, "k-1"), metadata=GLOBEX)
    assert reply.created
    error = await _error(profiles.LinkExternalId(_link(ada.profile_id, "k-2"), metadata=GLOBEX))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_merge_moves_everything_audits_and_emits(profiles: Stub, engine: sa.Engine) -> None:
    keep, dup = await _create(profiles, "keep@example.org"), await _create(profiles, "dup@example.org")
    await profiles.LinkExternalId(_link(dup.profile_id, "k-dup"), metadata=ACME)
    for profile_id, delta in ((keep.profile_id, 2), (dup.profile_id, 3)):
        await profiles.IncrementCounter(_counter(profile_id, "buddy_match_count", delta), metadata=ACME)
    await profiles.SetJourneyFlag(
        profile_pb2.SetJourneyFlagRequest(profile_id=dup.profile_id, flag="is_buddy_participant", value=True),
        metadata=ACME,
    )
    buddy, active = types_pb2.PROGRAMME_TYPE_BUDDY, profile_pb2.ENROLMENT_STATUS_ACTIVE
    await profiles.UpsertEnrolment(_enrol(dup.profile_id, buddy, active, start_time=1_000), metadata=ACME)
    request = profile_pb2.MergeProfilesRequest(
        profile_id=keep.profile_id, duplicate_profile_id=dup.profile_id, reason="same person, two e-mails"
    )
    merged = (await profiles.MergeProfiles(request, metadata=ACME)).profile
    assert merged.counters == {"buddy_match_count": 5}
    assert merged.flags == {"is_buddy_participant": True}
    assert [(e.external_id) for e in merged.external_ids] == ["k-dup"]
    assert [(e.programme, e.start_time.seconds) for e in merged.enrolments] == [(buddy, 1_000)]
    error = await _error(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=dup.profile_id), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert _details(error)[0].metadata["merged_into"] == keep.profile_id
    replay = await profiles.MergeProfiles(request, metadata=ACME)
    assert replay.profile.counters == {"buddy_match_count": 5}
    with engine.connect() as connection:
        audit = connection.execute(sa.select(merges)).mappings().all()
    assert [(a["survivor_id"], a["duplicate_id"], a["reason"], a["actor"], a["company_id"]) for a in audit] == [
        (keep.profile_id, dup.profile_id, "same person, two e-mails", "user-1", "acme")
    ]
    with db.UnitOfWork(engine).begin() as session:
        emitted = events.pending(session)
    assert [e.type for e in emitted] == ["profile.profiles.merged"]
    payload = events.payload_of(emitted[0])
    assert isinstance(payload, events_pb2.ProfilesMerged)
    assert (payload.profile_id, payload.duplicate_profile_id) == (keep.profile_id, dup.profile_id)
    listed = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=ACME)
    assert [p.profile_id for p in listed.profiles] == [keep.profile_id]
    taken = await _error(
        profiles.CreateProfile(
            profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="dup@example.org")), metadata=ACME
        )
    )
    assert _details(taken)[0].metadata["profile_id"] == keep.profile_id


async def test_bad_merges_are_refused(profiles: Stub) -> None:
    keep, dup = await _create(profiles, "keep@example.org"), await _create(profiles, "dup@example.org")
    foreign = await _create(profiles, "far@example.org", GLOBEX)

    def merge(survivor: str, duplicate: str, reason: str = "dup") -> profile_pb2.MergeProfilesRequest:
        return profile_pb2.MergeProfilesRequest(profile_id=survivor, duplicate_profile_id=duplicate, reason=reason)

    cases = [
        (merge(keep.profile_id, keep.profile_id), grpc.StatusCode.INVALID_ARGUMENT, "duplicate_profile_id"),
        (merge(keep.profile_id, dup.profile_id, ""), grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (merge(keep.profile_id, dup.profile_id, "x" * 501), grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (merge(keep.profile_id, "nope"), grpc.StatusCode.INVALID_ARGUMENT, "duplicate_profile_id"),
        (merge(keep.profile_id, MISSING), grpc.StatusCode.NOT_FOUND, ""),
        (merge(keep.profile_id, foreign.profile_id), grpc.StatusCode.NOT_FOUND, ""),
    ]
    for request, code, field in cases:
        error = await _error(profiles.MergeProfiles(request, metadata=ACME))
        assert error.code() == code, request
        assert not field or field in _details(error)[1]
    await profiles.MergeProfiles(merge(keep.profile_id, dup.profile_id), metadata=ACME)
    other = await _create(profiles, "other@example.org")
    error = await _error(profiles.MergeProfiles(merge(other.profile_id, dup.profile_id), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert _details(error)[0].metadata["merged_into"] == keep.profile_id


async def test_list_looks_up_by_normalised_email_and_pages(profiles: Stub) -> None:
    created = sorted([(await _create(profiles, f"p{i}@example.org")).profile_id for i in range(5)])
    await _create(profiles, "p0@example.org", GLOBEX)
    found = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(email="  P3@Example.ORG "), metadata=ACME)
    assert [p.email for p in found.profiles] == ["p3@example.org"]
    seen, token = [], ""
    while True:
        request = profile_pb2.ListProfilesRequest(page_size=2, page_token=token)
        page = await profiles.ListProfiles(request, metadata=ACME)
        assert len(page.profiles) <= 2
        seen += [p.profile_id for p in page.profiles]
        token = page.next_page_token
        if not token:
            break
    assert seen == created
    capped = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(page_size=10_000), metadata=ACME)
    assert len(capped.profiles) == 5


async def test_list_refuses_malformed_and_foreign_tokens(profiles: Stub) -> None:
    for i in range(3):
        await _create(profiles, f"p{i}@example.org")
    page = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(page_size=1), metadata=ACME)
    bad_requests = [
        profile_pb2.ListProfilesRequest(page_size=-1),
        profile_pb2.ListProfilesRequest(page_token="not a token"),
        profile_pb2.ListProfilesRequest(page_token="x" * 600),
        profile_pb2.ListProfilesRequest(email="not-an-email"),
        profile_pb2.ListProfilesRequest(page_token=page.next_page_token, email="p1@example.org"),
    ]
    for request in bad_requests:
        error = await _error(profiles.ListProfiles(request, metadata=ACME))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    foreign = profile_pb2.ListProfilesRequest(page_size=1, page_token=page.next_page_token)
    assert (await _error(profiles.ListProfiles(foreign, metadata=GLOBEX))).code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_enrolments_flags_and_counters_are_set_and_returned(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    language = types_pb2.PROGRAMME_TYPE_LANGUAGE
    request = _enrol(ada.profile_id, language, profile_pb2.ENROLMENT_STATUS_ACTIVE, start_time=1_000)
    first = (await profiles.UpsertEnrolment(request, metadata=ACME)).profile.enrolments
    assert first == (await profiles.UpsertEnrolment(request, metadata=ACME)).profile.enrolments
    done = _enrol(ada.profile_id, language, profile_pb2.ENROLMENT_STATUS_COMPLETED, end_time=5_000)
    enrolment = (await profiles.UpsertEnrolment(done, metadata=ACME)).profile.enrolments[0]
    assert (enrolment.status, enrolment.start_time.seconds, enrolment.end_time.seconds) == (2, 1_000, 5_000)
    flag = profile_pb2.SetJourneyFlagRequest(profile_id=ada.profile_id, flag="is_buddy_participant", value=True)
    assert (await profiles.SetJourneyFlag(flag, metadata=ACME)).profile.flags == {"is_buddy_participant": True}
    await profiles.IncrementCounter(_counter(ada.profile_id, "sessions", 3), metadata=ACME)
    reply = await profiles.IncrementCounter(_counter(ada.profile_id, "sessions", -5), metadata=ACME)
    assert reply.profile.counters == {"sessions": -2}
    fetched = (
        await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada.profile_id), metadata=ACME)
    ).profile
    assert fetched.flags == {"is_buddy_participant": True}
    assert fetched.counters == {"sessions": -2}
    assert len(fetched.enrolments) == 1


async def test_a_replayed_increment_with_a_request_id_counts_once(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    for _ in range(3):
        reply = await profiles.IncrementCounter(_counter(ada.profile_id, "sessions", 2, "req-1"), metadata=ACME)
    assert reply.profile.counters == {"sessions": 2}
    error = await _error(profiles.IncrementCounter(_counter(ada.profile_id, "sessions", 1, "r" * 129), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_counters_never_silently_overflow(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    await profiles.IncrementCounter(_counter(ada.profile_id, "big", 2**63 - 1), metadata=ACME)
    error = await _error(profiles.IncrementCounter(_counter(ada.profile_id, "big", 1), metadata=ACME))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _details(error)[0].reason == "COUNTER_OVERFLOW"
    fetched = (
        await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada.profile_id), metadata=ACME)
    ).profile
    assert fetched.counters == {"big": 2**63 - 1}


async def test_malformed_journey_requests_are_refused(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    pid, active = ada.profile_id, profile_pb2.ENROLMENT_STATUS_ACTIVE
    language, completed = types_pb2.PROGRAMME_TYPE_LANGUAGE, profile_pb2.ENROLMENT_STATUS_COMPLETED
    calls = [
        (profiles.UpsertEnrolment(_enrol(pid, 0, active), metadata=ACME), "enrolment.programme"),
        (profiles.UpsertEnrolment(_enrol(pid, language, 0), metadata=ACME), "enrolment.status"),
        (
            profiles.UpsertEnrolment(_enrol(pid, language, completed, start_time=9, end_time=5), metadata=ACME),
            "enrolment.end_time",
        ),
        (
            profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(profile_id=pid, flag="Bad Flag"), metadata=ACME),
            "flag",
        ),
        (
            profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(profile_id=pid, flag="f" * 64), metadata=ACME),
            "flag",
        ),
        (profiles.IncrementCounter(_counter(pid, "", 1), metadata=ACME), "counter"),
        (profiles.IncrementCounter(_counter("nope", "c", 1), metadata=ACME), "profile_id"),
    ]
    for call, field in calls:
        error = await _error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in _details(error)[1]
    fetched = (await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=pid), metadata=ACME)).profile
    assert (list(fetched.enrolments), dict(fetched.flags), dict(fetched.counters)) == ([], {}, {})


async def test_journey_rpcs_cannot_reach_another_company(profiles: Stub) -> None:
    ada = await _create(profiles, "ada@example.org")
    pid = ada.profile_id
    calls = [
        profiles.UpsertEnrolment(_enrol(pid, 1, 1), metadata=GLOBEX),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(profile_id=pid, flag="f"), metadata=GLOBEX),
        profiles.IncrementCounter(_counter(pid, "c", 1), metadata=GLOBEX),
        profiles.LinkExternalId(_link(pid, "k-1"), metadata=GLOBEX),
        profiles.IncrementCounter(_counter(MISSING, "c", 1), metadata=ACME),
    ]
    for call in calls:
        assert (await _error(call)).code() == grpc.StatusCode.NOT_FOUND
    assert (await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=GLOBEX)).profiles == []


@pytest.mark.parametrize("metadata", [(), (("x-tenant-id", "acme"),)])
async def test_every_new_rpc_requires_a_valid_tenant(profiles: Stub, metadata: tuple[tuple[str, str], ...]) -> None:
    calls = [
        profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=metadata),
        profiles.LinkExternalId(_link(MISSING, "k"), metadata=metadata),
        profiles.MergeProfiles(profile_pb2.MergeProfilesRequest(), metadata=metadata),
        profiles.UpsertEnrolment(_enrol(MISSING, 1, 1), metadata=metadata),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(), metadata=metadata),
        profiles.IncrementCounter(_counter(MISSING, "c", 1), metadata=metadata),
    ]
    for call in calls:
        code = (await _error(call)).code()
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_oversized_requests_are_refused(profiles: Stub) -> None:
    huge = "x" * (5 * 1024 * 1024)
    calls = [
        profiles.LinkExternalId(_link(MISSING, huge), metadata=ACME),
        profiles.MergeProfiles(profile_pb2.MergeProfilesRequest(reason=huge), metadata=ACME),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(flag=huge), metadata=ACME),
        profiles.ListProfiles(profile_pb2.ListProfilesRequest(page_token=huge), metadata=ACME),
    ]
    for call in calls:
        assert (await _error(call)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
