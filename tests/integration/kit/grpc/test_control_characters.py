"""Control characters over real gRPC: a string field holding one is INVALID_ARGUMENT naming the field
(issue 10: an e-mail `n\\u0000ul@example.org` was stored), after authentication; CSV and webhook
payloads reach their parsers, which name the cell or field themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.cli.webhooks import provision
from services.kintell import bootstrap as kintell_bootstrap
from services.kit.config import ServiceConfig
from services.kit.security.webhooks import signed_metadata
from services.kit.testing import running, tenant
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row, session_body

ACME = tenant("acme")
Kintell: TypeAlias = "kintell_pb2_grpc.KintellServiceAsyncStub"
Profiles: TypeAlias = "profile_pb2_grpc.ProfileServiceAsyncStub"


@pytest.fixture
async def kintell(service_config: ServiceConfig) -> AsyncIterator[tuple[Kintell, str]]:
    """The real Kintell connector served in-process, and acme's webhook secret."""
    secret = provision(service_config.var_dir, "acme", "kintell")
    async with running(kintell_bootstrap.build(service_config)) as (_, channel):
        yield kintell_pb2_grpc.KintellServiceStub(channel), secret


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found = [(v.field, v.description) for v in bad.field_violations]
    return found


def _create(email: str, given_name: str = "", family_name: str = "") -> profile_pb2.CreateProfileRequest:
    profile = profile_pb2.Profile(email=email, given_name=given_name, family_name=family_name)
    return profile_pb2.CreateProfileRequest(profile=profile)


async def test_a_nul_in_an_email_is_refused_naming_the_field_and_nothing_is_stored(profiles: Profiles) -> None:
    error = await _error(profiles.CreateProfile(_create("n\x00ul@example.org"), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "profile.email must not contain control characters (U+0000 at character 2)"
    assert _violations(error) == [("profile.email", "must not contain control characters (U+0000 at character 2)")]
    listed = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=ACME)
    assert list(listed.profiles) == []


async def test_every_bad_field_is_named_and_the_message_counts_the_rest(profiles: Profiles) -> None:
    request = _create("a@example.org", given_name="\x1b[1mAda", family_name="L\x7f")
    error = await _error(profiles.CreateProfile(request, metadata=ACME))
    assert [field for field, _ in _violations(error)] == ["profile.given_name", "profile.family_name"]
    assert error.details() == (
        "profile.given_name must not contain control characters (U+001B at character 1); and 1 more"
    )


async def test_tab_and_line_breaks_in_text_pass_the_check(profiles: Profiles) -> None:
    created = await profiles.CreateProfile(_create("a@example.org", given_name="Ada\tMary"), metadata=ACME)
    assert created.profile.given_name == "Ada\tMary"


async def test_without_a_token_the_answer_is_unauthenticated_not_the_field(profiles: Profiles) -> None:
    error = await _error(profiles.CreateProfile(_create("n\x00ul@example.org")))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_csv_body_reaches_the_import_which_quarantines_the_cell(kintell: tuple[Kintell, str]) -> None:
    stub, _ = kintell
    data = csv(LANGUAGE_V1_0, language_row("k-1", feedback_text="good\x00"), language_row("k-2"))
    request = kintell_pb2.ImportSessionsRequest(body=httpbody_pb2.HttpBody(content_type="text/csv", data=data))
    batch = (await stub.ImportSessions(request, metadata=ACME)).batch
    assert (batch.rows_stored, batch.rows_quarantined) == (1, 1)
    errors = await stub.GetImportErrors(kintell_pb2.GetImportErrorsRequest(batch_id=batch.batch_id), metadata=ACME)
    assert [(e.row, e.field) for e in errors.errors] == [(2, "feedback_text")]


async def test_a_webhook_body_reaches_its_parser_which_names_the_field(kintell: tuple[Kintell, str]) -> None:
    stub, secret = kintell
    body = session_body(feedback_text="we talked\x00")
    request = kintell_pb2.ReceiveSessionCompletedRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    metadata = ACME + signed_metadata(secret, body, message_id="d-1")
    error = await _error(stub.ReceiveSessionCompleted(request, metadata=metadata))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in _violations(error)] == ["session.feedback_text"]
    assert "session.feedback_text must not contain control characters" in (error.details() or "")


async def test_a_nul_in_a_filter_is_refused_naming_it(kintell: tuple[Kintell, str]) -> None:
    stub, _ = kintell
    request = kintell_pb2.ListSessionsRequest(participant_email="a\x00@example.org")
    error = await _error(stub.ListSessions(request, metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in _violations(error)] == ["participant_email"]
