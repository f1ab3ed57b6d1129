"""The profile service's privacy RPCs over real gRPC: export of one person's profile with its journey
and identities, erasure of all of it (merges included), nothing of another person or company touched."""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from services.kit.testing import tenant
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2
from tests.integration.profile.support import GLOBEX, Stub, counter, create, error_of, get, link

OPERATOR = tenant("acme", role="super_admin", subject="op-1")


def _subject(**who: str) -> types_pb2.DataSubject:
    return types_pb2.DataSubject(**who)


async def test_export_then_erase_one_person(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    bo = await create(profiles, "bo@example.org")
    await profiles.LinkExternalId(link(ada.profile_id, "kin-ada"), metadata=OPERATOR)
    await profiles.IncrementCounter(counter(ada.profile_id, "sessions", 2), metadata=OPERATOR)
    await create(profiles, "ada@example.org", metadata=GLOBEX)

    export = await profiles.ExportSubjectData(
        profile_pb2.ExportSubjectDataRequest(subject=_subject(email="Ada@Example.org")), metadata=OPERATOR
    )
    records = json_format.MessageToDict(export.records)
    assert [r["profile_id"] for r in records["profiles"]] == [ada.profile_id]
    assert records["profile_external_ids"][0]["external_id"] == "kin-ada"
    assert records["profile_counters"][0]["value"] == 2
    assert "bo@example.org" not in str(records)

    erase = profile_pb2.EraseSubjectDataRequest(subject=_subject(profile_id=ada.profile_id), privacy_request_id="pr-1")
    done = await profiles.EraseSubjectData(erase, metadata=OPERATOR)
    assert done.records_found == 3
    assert done.records_erased >= 3
    assert (await get(profiles, bo.profile_id)).email == "bo@example.org"
    elsewhere = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(email="ada@example.org"), metadata=GLOBEX)
    assert len(elsewhere.profiles) == 1


async def test_erased_profile_is_not_found_afterwards(profiles: Stub) -> None:
    ada = await create(profiles, "ada@example.org")
    erase = profile_pb2.EraseSubjectDataRequest(subject=_subject(email="ada@example.org"), privacy_request_id="pr-2")
    await profiles.EraseSubjectData(erase, metadata=OPERATOR)
    error = await error_of(
        profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada.profile_id), metadata=OPERATOR)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
