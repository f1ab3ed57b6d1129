"""An export's bundle is kept 30 days after completion (the retention policy's dsr_bundles): until then it is
downloaded with its expiry; from then on the request reads as expired and a download is refused saying when
the bundle expired, never answered with an empty bundle, before and after the retention task deleted it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.gateway import bootstrap, handlers, queries
from services.gateway.bootstrap import Gateway
from services.gateway.domain import privacy as dsr
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.domain.errors import PrivacyBundleExpired
from services.gateway.dsr import wire
from services.gateway.dsr.worker import PrivacyWorker
from services.kit.config import ServiceConfig
from services.kit.persistence import retention, retention_policy
from teei.gateway.v1 import gateway_pb2
from tests.unit.gateway.conftest import FakeClock
from tests.unit.gateway.privacy.test_worker import EMAIL, _services

KEPT = timedelta(days=30)
ADMIN = queries.Viewer("acme", "admin-1", sees_company=True)


async def _completed_export(gateway: Gateway, clock: FakeClock) -> dsr.PrivacyRequest:
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), clock=clock)
    command = ReceivePrivacyRequest(
        kind="export", company_id="acme", requested_by="admin-1", email=EMAIL, reason="DSR-7"
    )
    request, _ = handlers.receive_privacy_request(command, services=worker.service_names, uow=gateway.uow, clock=clock)
    assert await worker.run_once() == 1
    return request


def _listed(gateway: Gateway, clock: FakeClock, *, expired: bool | None = None) -> list[queries.RequestView]:
    status = None if expired is None else dsr.RequestStatus.COMPLETED
    return queries.list_privacy_requests(
        ADMIN, kind=None, status=status, bundle_expired=expired, after=None, limit=10, uow=gateway.uow,
        kept_for=KEPT, clock=clock,
    )  # fmt: skip


def _get(gateway: Gateway, clock: FakeClock, request_id: str) -> tuple[dsr.PrivacyRequest, dict[str, object] | None]:
    return queries.get_privacy_request(request_id, ADMIN, uow=gateway.uow, kept_for=KEPT, clock=clock)


async def test_a_bundle_is_downloaded_with_its_expiry_until_it_expires_then_refused_naming_the_day(
    gateway: Gateway, clock: FakeClock
) -> None:
    request = await _completed_export(gateway, clock)
    completed_at = clock()
    clock.advance(KEPT.total_seconds() - 1)
    done, exported = _get(gateway, clock, request.request_id)
    assert exported is not None
    assert sorted(exported["sections"]) == ["gateway", "kintell", "profile"]  # type: ignore[call-overload]
    (view,) = _listed(gateway, clock)
    assert (view.bundle_expires_at, view.bundle_expired) == (completed_at + KEPT, False)
    assert dsr.bundle_expires_at(done, KEPT) == completed_at + KEPT

    clock.advance(1)
    with pytest.raises(PrivacyBundleExpired) as refused:
        _get(gateway, clock, request.request_id)
    assert "expired on 2026-12-27 09:00 UTC (30 days after the export completed)" in refused.value.message
    assert refused.value.metadata["expired_at"] == (completed_at + KEPT).isoformat()
    (view,) = _listed(gateway, clock)
    assert view.bundle_expired
    assert view.request.status is dsr.RequestStatus.COMPLETED  # stored as answered; read as expired
    assert [v.request.request_id for v in _listed(gateway, clock, expired=True)] == [request.request_id]
    assert _listed(gateway, clock, expired=False) == []


async def test_after_the_retention_task_deleted_the_bundle_the_request_stays_and_reads_expired(
    gateway: Gateway, clock: FakeClock
) -> None:
    request = await _completed_export(gateway, clock)
    clock.advance(KEPT.total_seconds() + 3600)
    rules = retention_policy.rules_for("gateway", gateway.engine)
    swept = retention.Retention(gateway.engine, rules, interval=3600, clock=clock).sweep()
    assert swept["privacy_sections"] == 3
    with gateway.uow.read() as repo:
        assert repo.privacy_requests.sections(request.request_id) == []
    with pytest.raises(PrivacyBundleExpired, match="expired on 2026-12-27 09:00 UTC"):
        _get(gateway, clock, request.request_id)
    (view,) = _listed(gateway, clock, expired=True)
    assert view.request.request_id == request.request_id
    assert [o.status for o in view.request.outcomes] == [dsr.PartStatus.DONE] * 3


async def test_a_bundle_deleted_before_its_expiry_reads_expired_and_says_it_was_deleted(
    gateway: Gateway, clock: FakeClock
) -> None:
    """An erasure of the person drops their export bundles long before the 30 days are up."""
    request = await _completed_export(gateway, clock)
    with gateway.uow.begin() as repo:
        repo.privacy_requests.forget_subject(request.subject)
    with pytest.raises(PrivacyBundleExpired, match="is no longer kept: it was deleted before its expiry on 2026-12-27"):
        _get(gateway, clock, request.request_id)
    (view,) = _listed(gateway, clock)
    assert view.bundle_expired
    assert _listed(gateway, clock, expired=False) == []


async def test_bundles_kept_until_an_erasure_never_expire_by_age(gateway: Gateway, clock: FakeClock) -> None:
    request = await _completed_export(gateway, clock)
    clock.advance(10 * KEPT.total_seconds())
    _, exported = queries.get_privacy_request(request.request_id, ADMIN, uow=gateway.uow, kept_for=None, clock=clock)
    assert exported is not None
    (view,) = queries.list_privacy_requests(
        ADMIN, kind=None, status=None, after=None, limit=10, uow=gateway.uow, kept_for=None, clock=clock
    )
    assert (view.bundle_expires_at, view.bundle_expired) == (None, False)


async def test_the_wire_reads_an_expired_export_as_expired_with_its_expiry_time(
    gateway: Gateway, clock: FakeClock
) -> None:
    request = await _completed_export(gateway, clock)
    clock.advance(KEPT.total_seconds())
    (view,) = _listed(gateway, clock)
    message = wire.to_proto(view.request, bundle_expires_at=view.bundle_expires_at, bundle_expired=True)
    assert message.status == gateway_pb2.PRIVACY_REQUEST_STATUS_EXPIRED
    assert message.bundle_expire_time.ToDatetime().isoformat() == "2026-12-27T09:00:00"
    assert wire.to_proto(request).status == gateway_pb2.PRIVACY_REQUEST_STATUS_PENDING
    assert not wire.to_proto(request).HasField("bundle_expire_time")
    completed = dsr.RequestStatus.COMPLETED
    assert wire.status_filter(gateway_pb2.PRIVACY_REQUEST_STATUS_EXPIRED) == (completed, True)
    assert wire.status_filter(gateway_pb2.PRIVACY_REQUEST_STATUS_COMPLETED) == (completed, False)
    assert wire.status_filter(gateway_pb2.PRIVACY_REQUEST_STATUS_FAILED) == (dsr.RequestStatus.FAILED, None)
    assert wire.status_filter(gateway_pb2.PRIVACY_REQUEST_STATUS_UNSPECIFIED) == (None, None)


def test_the_shipped_retention_policy_keeps_bundles_thirty_days() -> None:
    assert bootstrap.bundle_lifetime(ServiceConfig(grpc_port=0)) == KEPT
