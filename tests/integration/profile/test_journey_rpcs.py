"""Journey RPCs over real gRPC: enrolments, flags and counters, their validation and tenancy."""

from __future__ import annotations

import grpc

from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2
from tests.integration.profile.support import (
    ACME,
    GLOBEX,
    MISSING,
    Stub,
    counter,
    create,
    details,
    enrol,
    error_of,
    get,
    link,
)


async def test_enrolments_flags_and_counters_are_set_and_returned(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    language = types_pb2.PROGRAMME_TYPE_LANGUAGE
    request = enrol(ada.profile_id, language, profile_pb2.ENROLMENT_STATUS_ACTIVE, start_time=1_000)
    first = (await profiles.UpsertEnrolment(request, metadata=ACME)).profile.enrolments
    assert first == (await profiles.UpsertEnrolment(request, metadata=ACME)).profile.enrolments
    done = enrol(ada.profile_id, language, profile_pb2.ENROLMENT_STATUS_COMPLETED, end_time=5_000)
    enrolment = (await profiles.UpsertEnrolment(done, metadata=ACME)).profile.enrolments[0]
    assert (enrolment.status, enrolment.start_time.seconds, enrolment.end_time.seconds) == (2, 1_000, 5_000)
    flag = profile_pb2.SetJourneyFlagRequest(profile_id=ada.profile_id, flag="is_buddy_participant", value=True)
    assert (await profiles.SetJourneyFlag(flag, metadata=ACME)).profile.flags == {"is_buddy_participant": True}
    await profiles.IncrementCounter(counter(ada.profile_id, "sessions", 3), metadata=ACME)
    reply = await profiles.IncrementCounter(counter(ada.profile_id, "sessions", -5), metadata=ACME)
    assert reply.profile.counters == {"sessions": -2}
    fetched = await get(profiles, ada.profile_id)
    assert fetched.flags == {"is_buddy_participant": True}
    assert fetched.counters == {"sessions": -2}
    assert len(fetched.enrolments) == 1


async def test_a_replayed_increment_with_a_request_id_counts_once(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    for _ in range(3):
        reply = await profiles.IncrementCounter(counter(ada.profile_id, "sessions", 2, "req-1"), metadata=ACME)
    assert reply.profile.counters == {"sessions": 2}
    error = await error_of(profiles.IncrementCounter(counter(ada.profile_id, "sessions", 1, "r" * 129), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_counters_never_silently_overflow(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    await profiles.IncrementCounter(counter(ada.profile_id, "big", 2**63 - 1), metadata=ACME)
    error = await error_of(profiles.IncrementCounter(counter(ada.profile_id, "big", 1), metadata=ACME))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)[0].reason == "COUNTER_OVERFLOW"
    fetched = await get(profiles, ada.profile_id)
    assert fetched.counters == {"big": 2**63 - 1}


async def test_malformed_journey_requests_are_refused(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    pid, active = ada.profile_id, profile_pb2.ENROLMENT_STATUS_ACTIVE
    language, completed = types_pb2.PROGRAMME_TYPE_LANGUAGE, profile_pb2.ENROLMENT_STATUS_COMPLETED
    calls = [
        (profiles.UpsertEnrolment(enrol(pid, 0, active), metadata=ACME), "enrolment.programme"),
        (profiles.UpsertEnrolment(enrol(pid, language, 0), metadata=ACME), "enrolment.status"),
        (
            profiles.UpsertEnrolment(enrol(pid, language, completed, start_time=9, end_time=5), metadata=ACME),
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
        (profiles.IncrementCounter(counter(pid, "", 1), metadata=ACME), "counter"),
        (profiles.IncrementCounter(counter("nope", "c", 1), metadata=ACME), "profile_id"),
    ]
    for call, field in calls:
        error = await error_of(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in details(error)[1]
    fetched = await get(profiles, pid)
    assert (list(fetched.enrolments), dict(fetched.flags), dict(fetched.counters)) == ([], {}, {})


async def test_journey_rpcs_cannot_reach_another_company(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    pid = ada.profile_id
    calls = [
        profiles.UpsertEnrolment(enrol(pid, 1, 1), metadata=GLOBEX),
        profiles.SetJourneyFlag(profile_pb2.SetJourneyFlagRequest(profile_id=pid, flag="f"), metadata=GLOBEX),
        profiles.IncrementCounter(counter(pid, "c", 1), metadata=GLOBEX),
        profiles.LinkExternalId(link(pid, "k-1"), metadata=GLOBEX),
        profiles.IncrementCounter(counter(MISSING, "c", 1), metadata=ACME),
    ]
    for call in calls:
        assert (await error_of(call)).code() == grpc.StatusCode.NOT_FOUND
    assert (await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=GLOBEX)).profiles == []
