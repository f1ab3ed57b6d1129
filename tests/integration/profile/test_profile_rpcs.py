"""Identity RPCs over real gRPC: external ids, merges, listings, tenancy and oversized input."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db
from services.profile.tables import merges
from teei.common.v1 import types_pb2
from teei.profile.v1 import events_pb2, profile_pb2
from tests.integration.profile.support import (
    ACME,
    GLOBEX,
    KINTELL,
    MISSING,
    Stub,
    counter,
    create,
    create_request,
    details,
    enrol,
    error_of,
    get,
    link,
)

BUDDY, ACTIVE = types_pb2.PROGRAMME_TYPE_BUDDY, profile_pb2.ENROLMENT_STATUS_ACTIVE


async def test_link_external_id_is_an_idempotent_upsert(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    first = await profiles.LinkExternalId(link(ada.profile_id, " k-1 "), metadata=ACME)
    again = await profiles.LinkExternalId(link(ada.profile_id, "k-1"), metadata=ACME)
    assert (first.created, again.created) == (True, False)
    assert [(e.provider, e.external_id) for e in again.profile.external_ids] == [(KINTELL, "k-1")]
    fetched = await get(profiles, ada.profile_id)
    assert list(fetched.external_ids) == list(again.profile.external_ids)


async def test_an_external_id_bound_to_another_profile_is_an_explicit_conflict(profiles: Stub) -> None:
    ada, bob = await create(profiles, "ada@example.org"), await create(profiles, "bob@example.org")
    await profiles.LinkExternalId(link(ada.profile_id, "k-1"), metadata=ACME)
    error = await error_of(profiles.LinkExternalId(link(bob.profile_id, "k-1"), metadata=ACME))
    assert error.code() == grpc.StatusCode.ABORTED
    info, _ = details(error)
    assert info.reason == "EXTERNAL_ID_CONFLICT"
    assert (info.metadata["profile_id"], info.metadata["bound_profile_id"]) == (bob.profile_id, ada.profile_id)
    other_provider = await profiles.LinkExternalId(
        link(bob.profile_id, "k-1", types_pb2.IDENTITY_PROVIDER_BUDDY), metadata=ACME
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
    ada = await create(profiles, "ada@example.org")
    error = await error_of(profiles.LinkExternalId(link(ada.profile_id, external_id, provider), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details(error)[1]


async def test_the_same_external_id_may_be_bound_in_another_company(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    ada_globex = await create(profiles, "ada@example.org", GLOBEX)
    await profiles.LinkExternalId(link(ada.profile_id, "k-1"), metadata=ACME)
    reply = await profiles.LinkExternalId(link(ada_globex.profile_id, "k-1"), metadata=GLOBEX)
    assert reply.created
    error = await error_of(profiles.LinkExternalId(link(ada.profile_id, "k-2"), metadata=GLOBEX))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def _duplicate_with_history(profiles: Stub) -> tuple[str, str, profile_pb2.MergeProfilesRequest]:
    """Two profiles of one person, the duplicate with an identity, a counter, a flag and an enrolment."""
    keep, dup = await create(profiles, "keep@example.org"), await create(profiles, "dup@example.org")
    await profiles.LinkExternalId(link(dup.profile_id, "k-dup"), metadata=ACME)
    for profile_id, delta in ((keep.profile_id, 2), (dup.profile_id, 3)):
        await profiles.IncrementCounter(counter(profile_id, "buddy_match_count", delta), metadata=ACME)
    await profiles.SetJourneyFlag(
        profile_pb2.SetJourneyFlagRequest(profile_id=dup.profile_id, flag="is_buddy_participant", value=True),
        metadata=ACME,
    )
    await profiles.UpsertEnrolment(enrol(dup.profile_id, BUDDY, ACTIVE, start_time=1_000), metadata=ACME)
    request = profile_pb2.MergeProfilesRequest(
        profile_id=keep.profile_id, duplicate_profile_id=dup.profile_id, reason="same person, two e-mails"
    )
    return keep.profile_id, dup.profile_id, request


async def test_merge_moves_everything_to_the_survivor(profiles: Stub) -> None:
    keep, dup, request = await _duplicate_with_history(profiles)
    merged = (await profiles.MergeProfiles(request, metadata=ACME)).profile
    assert merged.counters == {"buddy_match_count": 5}
    assert merged.flags == {"is_buddy_participant": True}
    assert [(e.external_id) for e in merged.external_ids] == ["k-dup"]
    assert [(e.programme, e.start_time.seconds) for e in merged.enrolments] == [(BUDDY, 1_000)]
    error = await error_of(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=dup), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert details(error)[0].metadata["merged_into"] == keep
    replay = await profiles.MergeProfiles(request, metadata=ACME)
    assert replay.profile.counters == {"buddy_match_count": 5}
    listed = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=ACME)
    assert [p.profile_id for p in listed.profiles] == [keep]
    taken = await error_of(profiles.CreateProfile(create_request("dup@example.org"), metadata=ACME))
    assert details(taken)[0].metadata["profile_id"] == keep


async def test_a_merge_is_audited_and_emitted_once(profiles: Stub, engine: sa.Engine) -> None:
    keep, dup, request = await _duplicate_with_history(profiles)
    for _ in range(2):
        await profiles.MergeProfiles(request, metadata=ACME)
    with engine.connect() as connection:
        audit = connection.execute(sa.select(merges)).mappings().all()
    assert [(a["survivor_id"], a["duplicate_id"], a["reason"], a["actor"], a["company_id"]) for a in audit] == [
        (keep, dup, "same person, two e-mails", "user-1", "acme")
    ]
    with db.UnitOfWork(engine).begin() as session:
        emitted = events.pending(session)
    assert [e.type for e in emitted] == ["profile.profiles.merged"]
    payload = events.payload_of(emitted[0])
    assert isinstance(payload, events_pb2.ProfilesMerged)
    assert (payload.profile_id, payload.duplicate_profile_id) == (keep, dup)


async def test_bad_merges_are_refused(profiles: Stub) -> None:
    keep, dup = await create(profiles, "keep@example.org"), await create(profiles, "dup@example.org")
    foreign = await create(profiles, "far@example.org", GLOBEX)

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
        error = await error_of(profiles.MergeProfiles(request, metadata=ACME))
        assert error.code() == code, request
        assert not field or field in details(error)[1]
    await profiles.MergeProfiles(merge(keep.profile_id, dup.profile_id), metadata=ACME)
    other = await create(profiles, "other@example.org")
    error = await error_of(profiles.MergeProfiles(merge(other.profile_id, dup.profile_id), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert details(error)[0].metadata["merged_into"] == keep.profile_id


async def test_list_looks_up_by_normalised_email_and_pages(profiles: Stub) -> None:
    created = sorted([(await create(profiles, f"p{i}@example.org")).profile_id for i in range(5)])
    await create(profiles, "p0@example.org", GLOBEX)
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
        await create(profiles, f"p{i}@example.org")
    page = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(page_size=1), metadata=ACME)
    bad_requests = [
        profile_pb2.ListProfilesRequest(page_size=-1),
        profile_pb2.ListProfilesRequest(page_token="not a token"),
        profile_pb2.ListProfilesRequest(page_token="x" * 600),
        profile_pb2.ListProfilesRequest(email="not-an-email"),
        profile_pb2.ListProfilesRequest(page_token=page.next_page_token, email="p1@example.org"),
    ]
    for request in bad_requests:
        error = await error_of(profiles.ListProfiles(request, metadata=ACME))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    foreign = profile_pb2.ListProfilesRequest(page_size=1, page_token=page.next_page_token)
    assert (await error_of(profiles.ListProfiles(foreign, metadata=GLOBEX))).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("metadata", [(), (("x-tenant-id", "acme"),)])
async def test_every_new_rpc_requires_a_valid_tenant(profiles: Stub, metadata: tuple[tuple[str, str], ...]) -> None:
    calls = [
        profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=metadata),
        profiles.LinkExternalId(link(MISSING, "k"), metadata=metadata),
        profiles.MergeProfiles(profile_pb2.MergeProfilesRequest(), metadata=metadata),
        profiles.UpsertEnrolment(enrol(MISSING, 1, 1), metadata=metadata),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(), metadata=metadata),
        profiles.IncrementCounter(counter(MISSING, "c", 1), metadata=metadata),
    ]
    for call in calls:
        code = (await error_of(call)).code()
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_oversized_requests_are_refused(profiles: Stub) -> None:
    huge = "x" * (5 * 1024 * 1024)
    calls = [
        profiles.LinkExternalId(link(MISSING, huge), metadata=ACME),
        profiles.MergeProfiles(profile_pb2.MergeProfilesRequest(reason=huge), metadata=ACME),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(flag=huge), metadata=ACME),
        profiles.ListProfiles(profile_pb2.ListProfilesRequest(page_token=huge), metadata=ACME),
    ]
    for call in calls:
        assert (await error_of(call)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
