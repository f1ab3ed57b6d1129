"""Per-RPC metrics and scrape-time gauges of a served service, read from the process's /metrics endpoint."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from services.gateway import bootstrap
from services.kit import testing
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.telemetry import metrics, sources
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"m" * 32).decode()}
GATEWAY = "teei.gateway.v1.GatewayService"


def _count(method: str, code: str) -> float:
    labels = {"rpc_service": GATEWAY, "rpc_method": method, "rpc_grpc_status_code": code}
    return REGISTRY.get_sample_value("rpc_server_duration_seconds_count", labels) or 0.0


async def test_each_call_is_recorded_with_its_status_and_served(tmp_path: Path) -> None:
    ok_before, internal_before = _count("GetJwks", "0"), _count("RaiseDiagnosticError", "13")
    token = testing.ISSUER.token(role="super_admin", tenant=None)
    async with testing.running(bootstrap.build(ServiceConfig(grpc_port=0, var_dir=tmp_path), environ=ENVIRON)) as (
        _,
        channel,
    ):
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        await stub.GetJwks(gateway_pb2.GetJwksRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.RaiseDiagnosticError(gateway_pb2.RaiseDiagnosticErrorRequest(), metadata=testing.bearer(token))
        endpoint = metrics.serve(0)
        try:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{endpoint.port}/metrics")).text
        finally:
            endpoint.close()
    assert _count("GetJwks", "0") == ok_before + 1
    assert _count("RaiseDiagnosticError", "13") == internal_before + 1
    assert 'outbox_backlog_events{database="gateway"}' in text
    assert "gateway_signing_key_age_seconds " in text
    assert "# TYPE messaging_consumer_lag_messages gauge" in text


async def test_gauges_of_a_stopped_service_are_removed(tmp_path: Path) -> None:
    async with testing.running(bootstrap.build(ServiceConfig(grpc_port=0, var_dir=tmp_path), environ=ENVIRON)):
        assert REGISTRY.get_sample_value("outbox_backlog_events", {"database": "gateway"}) is not None
    assert REGISTRY.get_sample_value("outbox_backlog_events", {"database": "gateway"}) is None


def test_outbox_backlog_and_age_are_read_from_the_database() -> None:
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    events.outbox.metadata.create_all(engine, tables=[events.outbox])
    recorded = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        row = {"event_type": "t", "envelope": b""}
        connection.execute(events.outbox.insert().values(**row, event_id="a", created_at=recorded))
        connection.execute(
            events.outbox.insert().values(**row, event_id="b", created_at=recorded + timedelta(seconds=30))
        )
        published = {"created_at": recorded - timedelta(hours=1), "published_at": recorded}
        connection.execute(events.outbox.insert().values(**row, event_id="c", **published))
    found = {
        s.name: list(s.read()) for s in sources.database("svc", engine, clock=lambda: recorded + timedelta(minutes=2))
    }
    assert found["outbox_backlog_events"] == [(("svc",), 2.0)]
    assert found["outbox_oldest_unpublished_age_seconds"] == [(("svc",), 120.0)]
    assert found["db_pool_connections_in_use"] == []  # a static pool keeps no count


def test_a_failing_source_does_not_break_the_scrape() -> None:
    def broken() -> list[tuple[tuple[str, ...], float]]:
        raise RuntimeError("database away")

    remove = metrics.add_sources("test", [metrics.GaugeSource("test_broken_gauge", "Broken.", (), broken)])
    try:
        families = {family.name for family in metrics.SCRAPE_TIME.collect()}
        assert "test_broken_gauge" in families
    finally:
        remove()
    assert "test_broken_gauge" not in {family.name for family in metrics.SCRAPE_TIME.collect()}
