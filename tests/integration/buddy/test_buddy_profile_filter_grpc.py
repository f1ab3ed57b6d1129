"""Buddy listings by profile over real gRPC: the profile service's id for an e-mail finds every record
where that person is one of its people, per company; a malformed id is INVALID_ARGUMENT naming
`profile_id` on every listing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.identity import profile_id_for_email
from services.kit.testing import tenant
from teei.buddy.v1 import buddy_pb2
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.integration.buddy.signing import signed_as
from tests.unit.buddy.samples import csv_of, delivery

if TYPE_CHECKING:
    from teei.buddy.v1 import buddy_pb2_grpc

    Stub = buddy_pb2_grpc.BuddyServiceAsyncStub

ACME = tenant("acme")
GLOBEX = tenant("globex")
Caller = tuple[tuple[str, str], ...]
ROWS = {
    "matches": (
        {"match_id": "m-1", "participant_email": "Ada@Example.org", "buddy_email": "bob@example.org"},
        {"match_id": "m-2", "participant_email": "cy@example.org", "buddy_email": "bob@example.org"},
    ),
    "events": (
        {"event_id": "e-1", "match_id": "m-1", "attendee_emails": "ada@example.org,bob@example.org"},
        {
            "event_id": "e-2",
            "match_id": "",
            "event_type": "workshop",
            "attendee_emails": "cy@example.org,ada@example.org",
        },
        {"event_id": "e-3", "match_id": "m-2", "attendee_emails": "cy@example.org,bob@example.org"},
    ),
    "checkins": (
        {"checkin_id": "c-1", "match_id": "m-1", "person_email": "ada@example.org"},
        {"checkin_id": "c-2", "match_id": "m-1", "person_email": "bob@example.org"},
    ),
    "feedback": (
        {"feedback_id": "f-1", "match_id": "m-1", "author_email": "bob@example.org"},
        {"feedback_id": "f-2", "match_id": "m-1", "author_email": "ada@example.org"},
    ),
}


async def _seed(buddy: Stub, caller: Caller) -> None:
    for kind, rows in ROWS.items():
        body = httpbody_pb2.HttpBody(content_type="text/csv", data=csv_of(kind, *rows))
        batch = (await buddy.ImportRecords(buddy_pb2.ImportRecordsRequest(kind=kind, body=body), metadata=caller)).batch
        assert batch.rows_stored == len(rows)


async def _listed(buddy: Stub, caller: Caller, profile_id: str, **filters: Any) -> dict[str, set[str]]:
    matches = await buddy.ListMatches(buddy_pb2.ListMatchesRequest(profile_id=profile_id, **filters), metadata=caller)
    events = await buddy.ListEvents(buddy_pb2.ListEventsRequest(profile_id=profile_id), metadata=caller)
    checkins = await buddy.ListCheckIns(buddy_pb2.ListCheckInsRequest(profile_id=profile_id), metadata=caller)
    feedback = await buddy.ListFeedback(buddy_pb2.ListFeedbackRequest(profile_id=profile_id), metadata=caller)
    return {
        "matches": {m.external_match_id for m in matches.matches},
        "events": {e.external_event_id for e in events.events},
        "checkins": {c.external_checkin_id for c in checkins.checkins},
        "feedback": {f.external_feedback_id for f in feedback.feedback},
    }


async def test_the_profile_services_id_lists_the_persons_records_of_every_kind(
    buddy: Stub, profiles: profile_pb2_grpc.ProfileServiceAsyncStub
) -> None:
    await _seed(buddy, ACME)
    created = await profiles.CreateProfile(
        profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="ada@example.org")), metadata=ACME
    )
    ada = created.profile.profile_id
    assert await _listed(buddy, ACME, ada) == {
        "matches": {"m-1"},
        "events": {"e-1", "e-2"},
        "checkins": {"c-1"},
        "feedback": {"f-2"},
    }
    bob = profile_id_for_email("acme", "bob@example.org")
    assert await _listed(buddy, ACME, bob) == {
        "matches": {"m-1", "m-2"},
        "events": {"e-1", "e-3"},
        "checkins": {"c-2"},
        "feedback": {"f-1"},
    }
    assert (await _listed(buddy, ACME, bob, email="cy@example.org"))["matches"] == {"m-2"}
    assert (await _listed(buddy, ACME, ada, email="cy@example.org"))["matches"] == set()


async def test_a_webhook_record_is_found_by_its_persons_profile(buddy: Stub) -> None:
    body = delivery("matches", delivery_id="w-1", participant_email="dan@example.org")
    request = buddy_pb2.ReceiveWebhookRequest(
        kind="matches", body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    assert not (await buddy.ReceiveWebhook(request, metadata=signed_as("acme", body, message_id="w-1"))).ack.duplicate
    dan = profile_id_for_email("acme", "dan@example.org")
    assert (await _listed(buddy, ACME, dan))["matches"] == {"m-1"}


async def test_another_companys_same_email_never_matches(buddy: Stub) -> None:
    await _seed(buddy, ACME)
    await _seed(buddy, GLOBEX)
    acme_ada, globex_ada = (profile_id_for_email(c, "ada@example.org") for c in ("acme", "globex"))
    nothing: dict[str, set[str]] = {"matches": set(), "events": set(), "checkins": set(), "feedback": set()}
    assert await _listed(buddy, GLOBEX, acme_ada) == nothing
    assert await _listed(buddy, ACME, globex_ada) == nothing
    assert await _listed(buddy, GLOBEX, globex_ada) == await _listed(buddy, ACME, acme_ada) != nothing


LISTINGS: list[Callable[[Stub, str], Awaitable[Any]]] = [
    lambda s, p: s.ListMatches(buddy_pb2.ListMatchesRequest(profile_id=p), metadata=ACME),
    lambda s, p: s.ListEvents(buddy_pb2.ListEventsRequest(profile_id=p), metadata=ACME),
    lambda s, p: s.ListCheckIns(buddy_pb2.ListCheckInsRequest(profile_id=p), metadata=ACME),
    lambda s, p: s.ListFeedback(
        buddy_pb2.ListFeedbackRequest(profile_id=p, author_role=types_pb2.PERSON_ROLE_PARTICIPANT), metadata=ACME
    ),
]


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize("malformed", ["p", "not-a-uuid", "00000000-0000-0000-0000-00000000000g"])
async def test_a_malformed_profile_id_is_invalid_argument_naming_the_field(
    buddy: Stub, listing: Callable[[Stub, str], Awaitable[Any]], malformed: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await listing(buddy, malformed)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad) for detail in status.details if detail.Is(bad.DESCRIPTOR))
    assert [v.field for v in bad.field_violations] == ["profile_id"]
