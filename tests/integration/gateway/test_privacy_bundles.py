"""Expired export bundles over the gateway's real gRPC API with real tokens: a completed export is
downloaded with its expiry time; 30 days on, after the retention task deleted its sections, it lists as
EXPIRED and a download (GetPrivacyRequest, or the export call repeated) answers FAILED_PRECONDITION saying
when the bundle expired, never an empty bundle."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.gateway import bootstrap
from services.kit.config import ServiceConfig
from services.kit.persistence import retention, retention_policy
from services.kit.testing import running, tenant
from teei.common.v1 import types_pb2
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from tests.unit.gateway.conftest import FakeClock
from tests.unit.gateway.privacy.test_worker import EMAIL, _services

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"b" * 32).decode(), "TEEI_PRIVACY_POLL_SECONDS": "0.05"}
ADMIN = tenant("acme", role="company_admin", subject="dpo-1")
COMPLETED = gateway_pb2.PRIVACY_REQUEST_STATUS_COMPLETED
EXPIRED = gateway_pb2.PRIVACY_REQUEST_STATUS_EXPIRED


@dataclass
class Served:
    stub: Any
    clock: FakeClock
    service: Any


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    clock = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    service = bootstrap.build(config, environ=ENVIRON, clock=clock, privacy_services=_services())
    async with running(service) as (_, channel):
        yield Served(gateway_pb2_grpc.GatewayServiceStub(channel), clock, service)


async def _completed(served: Served, ask: gateway_pb2.ExportSubjectDataRequest) -> gateway_pb2.PrivacyRequest:
    asked = await served.stub.ExportSubjectData(ask, metadata=ADMIN)
    get = gateway_pb2.GetPrivacyRequestRequest(request_id=asked.request.request_id)
    deadline = time.monotonic() + 30
    while (answer := await served.stub.GetPrivacyRequest(get, metadata=ADMIN)).request.status != COMPLETED:
        assert time.monotonic() < deadline, "the export did not complete"
        await asyncio.sleep(0.05)  # polling interval of a bounded wait for the gateway's worker
    request: gateway_pb2.PrivacyRequest = answer.request
    return request


async def _refusal(call: Any) -> tuple[grpc.StatusCode, str, error_details_pb2.ErrorInfo]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = rpc_status.from_call(caught.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return caught.value.code(), caught.value.details() or "", info


async def _listed(served: Served, status: int = 0) -> list[gateway_pb2.PrivacyRequest]:
    listing = gateway_pb2.ListPrivacyRequestsRequest(status=status)  # type: ignore[arg-type]
    return list((await served.stub.ListPrivacyRequests(listing, metadata=ADMIN)).requests)


async def test_an_expired_export_lists_as_expired_and_its_download_is_refused_naming_the_day(served: Served) -> None:
    ask = gateway_pb2.ExportSubjectDataRequest(
        subject=types_pb2.DataSubject(email=EMAIL), reason="DSR-9", request_id="dsr-9"
    )
    done = await _completed(served, ask)
    expires = done.complete_time.ToDatetime(UTC) + timedelta(days=30)
    assert done.bundle_expire_time.ToDatetime(UTC) == expires
    again = await served.stub.ExportSubjectData(ask, metadata=ADMIN)
    assert sorted(again.bundle["sections"].keys()) == ["gateway", "kintell", "profile"]

    served.clock.now = expires + timedelta(hours=1)
    engine = served.service.engine
    swept = retention.Retention(
        engine, retention_policy.rules_for("gateway", engine), interval=3600, clock=served.clock
    )
    assert swept.sweep()["privacy_sections"] == 3

    get = gateway_pb2.GetPrivacyRequestRequest(request_id=done.request_id)
    for call in (
        served.stub.GetPrivacyRequest(get, metadata=ADMIN),
        served.stub.ExportSubjectData(ask, metadata=ADMIN),
    ):
        code, message, info = await _refusal(call)
        assert code is grpc.StatusCode.FAILED_PRECONDITION
        assert "expired on 2026-12-27 09:" in message
        assert info.reason == "PRIVACY_BUNDLE_EXPIRED"
        assert info.metadata["request_id"] == done.request_id
    (listed,) = await _listed(served)
    assert (listed.request_id, listed.status) == (done.request_id, EXPIRED)
    assert listed.bundle_expire_time.ToDatetime(UTC) == expires
    assert [r.request_id for r in await _listed(served, EXPIRED)] == [done.request_id]
    assert await _listed(served, COMPLETED) == []
