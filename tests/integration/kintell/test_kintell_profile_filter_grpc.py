"""ListSessions by profile over real gRPC: the profile service's id for an e-mail finds that person's
sessions in either role, per company; a malformed id is INVALID_ARGUMENT naming `profile_id`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.cli.webhooks import provision
from services.kintell import bootstrap
from services.kit.config import ServiceConfig
from services.kit.identity import profile_id_for_email
from services.kit.security.webhooks import signed_metadata
from services.kit.testing import running, tenant
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.unit.kintell.samples import LANGUAGE_V1_0, MENTORSHIP_V1_0, csv, language_row, session_body

ACME = tenant("acme")
GLOBEX = tenant("globex")
Stub: TypeAlias = "kintell_pb2_grpc.KintellServiceAsyncStub"


@pytest.fixture
async def kintell(service_config: ServiceConfig) -> AsyncIterator[tuple[Stub, str]]:
    """A typed stub to the real Kintell connector served in-process, and acme's webhook secret."""
    secret = provision(service_config.var_dir, "acme", "kintell")
    async with running(bootstrap.build(service_config)) as (_, channel):
        yield kintell_pb2_grpc.KintellServiceStub(channel), secret


def _import(data: bytes) -> kintell_pb2.ImportSessionsRequest:
    return kintell_pb2.ImportSessionsRequest(body=httpbody_pb2.HttpBody(content_type="text/csv", data=data))


async def _seed(stub: Stub, caller: tuple[tuple[str, str], ...]) -> None:
    language = csv(
        LANGUAGE_V1_0,
        language_row("k-1", participant_email="Ada@Example.org"),
        language_row("k-2", participant_email="bo@example.org", volunteer_email="ada@example.org"),
        language_row("k-3", participant_email="bo@example.org"),
    )
    mentorship = csv(MENTORSHIP_V1_0, "k-4,cy@example.org,ada@example.org,2026-03-05T10:00:00Z,,,,,,")
    for data in (language, mentorship):
        assert (await stub.ImportSessions(_import(data), metadata=caller)).batch.rows_stored >= 1


async def _listed(stub: Stub, caller: tuple[tuple[str, str], ...], **filters: object) -> set[str]:
    request = kintell_pb2.ListSessionsRequest(**filters)  # type: ignore[arg-type]
    return {s.external_session_id for s in (await stub.ListSessions(request, metadata=caller)).sessions}


async def test_the_profile_services_id_lists_the_persons_sessions_in_either_role(
    kintell: tuple[Stub, str], profiles: profile_pb2_grpc.ProfileServiceAsyncStub
) -> None:
    stub, secret = kintell
    await _seed(stub, ACME)
    body = session_body(delivery_id="w-1", session_id="k-5", participant={"email": "dan@example.org"})
    hook = kintell_pb2.ReceiveSessionCompletedRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    await stub.ReceiveSessionCompleted(hook, metadata=ACME + signed_metadata(secret, body, message_id="w-1"))
    created = await profiles.CreateProfile(
        profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="ADA@example.org")), metadata=ACME
    )
    ada = created.profile.profile_id
    assert await _listed(stub, ACME, profile_id=ada) == {"k-1", "k-2", "k-4"}
    assert await _listed(stub, ACME, profile_id=ada, volunteer_email="ada@example.org") == {"k-2", "k-4"}
    assert await _listed(stub, ACME, profile_id=ada, session_type=kintell_pb2.SESSION_TYPE_LANGUAGE) == {"k-1", "k-2"}
    assert await _listed(stub, ACME, profile_id=profile_id_for_email("acme", "dan@example.org")) == {"k-5"}
    assert await _listed(stub, ACME, profile_id=profile_id_for_email("acme", "v@corp.com")) == {"k-5"}


async def test_another_companys_same_email_never_matches(kintell: tuple[Stub, str]) -> None:
    stub, _ = kintell
    await _seed(stub, ACME)
    await _seed(stub, GLOBEX)
    acme_ada, globex_ada = (profile_id_for_email(c, "ada@example.org") for c in ("acme", "globex"))
    assert await _listed(stub, GLOBEX, profile_id=acme_ada) == set()
    assert await _listed(stub, ACME, profile_id=globex_ada) == set()
    assert await _listed(stub, GLOBEX, profile_id=globex_ada) == {"k-1", "k-2", "k-4"}


@pytest.mark.parametrize("malformed", ["p", "not-a-uuid", "00000000-0000-0000-0000-00000000000g"])
async def test_a_malformed_profile_id_is_invalid_argument_naming_the_field(
    kintell: tuple[Stub, str], malformed: str
) -> None:
    stub, _ = kintell
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListSessions(kintell_pb2.ListSessionsRequest(profile_id=malformed), metadata=ACME)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad) for detail in status.details if detail.Is(bad.DESCRIPTOR))
    assert [v.field for v in bad.field_violations] == ["profile_id"]
