"""Idempotency-Key over real gRPC on the real profile and Kintell services served in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kintell import bootstrap as kintell_bootstrap
from services.kit.config import ServiceConfig
from services.kit.grpc.server import GrpcServer
from services.kit.identity import profile_id_for_email
from services.kit.persistence import idempotency
from services.kit.testing import running, tenant
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row

Metadata = tuple[tuple[str, str], ...]
ACME = tenant("acme")
GLOBEX = tenant("globex")
CREATE = "/teei.profile.v1.ProfileService/CreateProfile"


def _keyed(caller: Metadata, key: str) -> Metadata:
    return (*caller, ("idempotency-key", key))


def _create(email: str, given: str = "Ada") -> profile_pb2.CreateProfileRequest:
    return profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email, given_name=given))


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    reason: str = info.reason
    return reason


def _count(engine: sa.Engine, table: str, **where: str) -> int:
    clause = " AND ".join(f"{column} = :{column}" for column in where) or "1 = 1"
    with engine.connect() as connection:
        count: int = connection.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {clause}"), where).scalar_one()
    return count


async def _replayed(call: grpc.aio.UnaryUnaryCall[Any, Any]) -> bool:
    return dict(await call.initial_metadata()).get(idempotency.REPLAYED_HEADER) == "true"


@pytest.fixture
def engine(profile_service: tuple[GrpcServer, grpc.aio.Channel]) -> sa.Engine:
    """The profile service's own database."""
    engine = profile_service[0].service.engine
    assert engine is not None
    return engine


async def test_the_same_key_twice_creates_one_profile_and_replays_the_first_answer(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    first_call = profiles.CreateProfile(_create("ada@example.org"), metadata=_keyed(ACME, "create-ada"))
    first = await first_call
    second_call = profiles.CreateProfile(_create("ada@example.org"), metadata=_keyed(ACME, "create-ada"))
    second = await second_call
    assert second == first
    assert not await _replayed(first_call)
    assert await _replayed(second_call)
    assert _count(engine, "profiles", profile_id=profile_id_for_email("acme", "ada@example.org")) == 1
    assert _count(engine, "idempotency_keys", tenant="acme", key="create-ada", state="COMPLETED") == 1
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT response FROM idempotency_keys")).scalar_one()
    assert b"ada@example.org" not in stored  # the stored reply is sealed like the profile it repeats
    assert first.profile.email == "ada@example.org"


async def test_the_same_key_with_another_body_is_refused_as_reused(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    await profiles.CreateProfile(_create("ada@example.org"), metadata=_keyed(ACME, "k-1"))
    error = await _error(profiles.CreateProfile(_create("bea@example.org"), metadata=_keyed(ACME, "k-1")))
    assert error.code() == grpc.StatusCode.ABORTED  # HTTP 409 at the edge
    assert _reason(error) == "IDEMPOTENCY_KEY_REUSED"
    assert "Idempotency-Key" in (error.details() or "")
    assert _count(engine, "profiles", profile_id=profile_id_for_email("acme", "bea@example.org")) == 0


async def test_without_a_key_calls_run_as_before_and_store_nothing(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    await profiles.CreateProfile(_create("ada@example.org"), metadata=ACME)
    error = await _error(profiles.CreateProfile(_create("ada@example.org"), metadata=ACME))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _count(engine, "idempotency_keys") == 0


async def test_concurrent_calls_with_one_key_execute_exactly_once(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    calls = [profiles.CreateProfile(_create("cy@example.org"), metadata=_keyed(ACME, "race")) for _ in range(8)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    created = {o.profile.profile_id for o in outcomes if isinstance(o, profile_pb2.CreateProfileResponse)}
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(created) == 1
    # A second execution would have answered ALREADY_EXISTS (the e-mail is taken): only in-progress refusals.
    assert all(e.code() == grpc.StatusCode.ABORTED and _reason(e) == "IDEMPOTENCY_KEY_IN_PROGRESS" for e in refused)
    assert _count(engine, "profiles", profile_id=profile_id_for_email("acme", "cy@example.org")) == 1


async def test_a_failed_call_releases_its_key_so_the_fixed_request_succeeds(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    error = await _error(profiles.CreateProfile(_create("not-an-email"), metadata=_keyed(ACME, "fix-me")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _count(engine, "idempotency_keys") == 0
    fixed = await profiles.CreateProfile(_create("dee@example.org"), metadata=_keyed(ACME, "fix-me"))
    again = await profiles.CreateProfile(_create("dee@example.org"), metadata=_keyed(ACME, "fix-me"))
    assert again == fixed


async def test_keys_are_scoped_per_tenant(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    acme = await profiles.CreateProfile(_create("eve@example.org"), metadata=_keyed(ACME, "same"))
    globex = await profiles.CreateProfile(_create("eve@example.org"), metadata=_keyed(GLOBEX, "same"))
    assert acme.profile.profile_id != globex.profile.profile_id
    assert (acme.profile.company_id, globex.profile.company_id) == ("acme", "globex")
    assert _count(engine, "idempotency_keys", key="same") == 2


@pytest.mark.parametrize("key", ["", "x" * 256])  # gRPC clients send only printable ASCII
async def test_a_malformed_key_is_an_invalid_argument_naming_the_header(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, key: str
) -> None:
    error = await _error(profiles.CreateProfile(_create("fay@example.org"), metadata=_keyed(ACME, key)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Idempotency-Key" in (error.details() or "")


async def test_reads_ignore_the_key(profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine) -> None:
    created = await profiles.CreateProfile(_create("gil@example.org"), metadata=ACME)
    request = profile_pb2.GetProfileRequest(profile_id=created.profile.profile_id)
    assert (await profiles.GetProfile(request, metadata=_keyed(ACME, "x" * 300))).profile == created.profile
    assert _count(engine, "idempotency_keys") == 0


def _pending(engine: sa.Engine, key: str, request: profile_pb2.CreateProfileRequest, expires: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            idempotency.table.insert().values(
                tenant="acme",
                subject="user-1",
                method=CREATE,
                key=key,
                fingerprint=idempotency.fingerprint(CREATE, request),
                state=idempotency.PENDING,
                claim_id="f" * 32,
                created_at=expires - timedelta(minutes=5),
                expires_at=expires,
            )
        )


async def test_a_key_whose_first_call_still_runs_is_refused_as_in_progress(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    request = _create("hal@example.org")
    _pending(engine, "running", request, datetime.now(UTC) + timedelta(minutes=4))
    error = await _error(profiles.CreateProfile(request, metadata=_keyed(ACME, "running")))
    assert error.code() == grpc.StatusCode.ABORTED
    assert _reason(error) == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert _count(engine, "profiles", profile_id=profile_id_for_email("acme", "hal@example.org")) == 0


async def test_an_abandoned_claim_is_reclaimed_once_it_expired(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, engine: sa.Engine
) -> None:
    request = _create("ida@example.org")
    _pending(engine, "crashed", request, datetime.now(UTC) - timedelta(seconds=1))
    created = await profiles.CreateProfile(request, metadata=_keyed(ACME, "crashed"))
    assert created.profile.email == "ida@example.org"
    assert _count(engine, "idempotency_keys", key="crashed", state="COMPLETED") == 1


@pytest.fixture
async def kintell(service_config: ServiceConfig) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """The real Kintell connector served in-process."""
    async with running(kintell_bootstrap.build(service_config)) as served:
        yield served


async def test_a_kintell_import_sent_twice_with_one_key_is_one_batch(
    kintell: tuple[GrpcServer, grpc.aio.Channel],
) -> None:
    stub = kintell_pb2_grpc.KintellServiceStub(kintell[1])
    data = csv(LANGUAGE_V1_0, language_row("k-1"), language_row("k-2"))
    request = kintell_pb2.ImportSessionsRequest(body=httpbody_pb2.HttpBody(content_type="text/csv", data=data))
    first = await stub.ImportSessions(request, metadata=_keyed(ACME, "export-2026-12-15"))
    second = await stub.ImportSessions(request, metadata=_keyed(ACME, "export-2026-12-15"))
    assert second.batch == first.batch
    listed = await stub.ListImports(kintell_pb2.ListImportsRequest(), metadata=ACME)
    assert [b.batch_id for b in listed.batches] == [first.batch.batch_id]
    # Without a key the same export is a new batch: the key is what made the repeat a replay.
    await stub.ImportSessions(request, metadata=ACME)
    listed = await stub.ListImports(kintell_pb2.ListImportsRequest(), metadata=ACME)
    assert len(listed.batches) == 2
