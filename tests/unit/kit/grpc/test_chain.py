"""The server interceptor chain: one order, with the trust policy inside the error mapper."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from services.kit import testing
from services.kit.grpc import chain
from services.kit.grpc.interceptors import (
    AuthInterceptor,
    ControlCharacterInterceptor,
    ErrorInterceptor,
    InFlightTracker,
    LoggingInterceptor,
    MalformedRequestInterceptor,
)
from services.kit.grpc.resilience import DeadlineInterceptor
from services.kit.persistence.idempotency import IdempotencyInterceptor, IdempotencyStore
from services.kit.security import trust_policy
from services.kit.security.mtls import TrustPolicyInterceptor
from services.kit.telemetry.rpc_metrics import RpcMetricsInterceptor
from services.kit.telemetry.server_spans import ServerSpanInterceptor


def test_full_chain_runs_in_the_documented_order() -> None:
    store = IdempotencyStore(sa.create_engine("sqlite://"), ttl=timedelta(hours=1), pending=timedelta(seconds=30))
    tracker = InFlightTracker()
    built = chain.build(
        service="profile",
        tracker=tracker,
        validator=testing.ISSUER.validator(),
        policy=trust_policy.load_policy(),
        idempotency=store,
    )
    assert [type(interceptor) for interceptor in built] == [
        LoggingInterceptor,
        ServerSpanInterceptor,
        RpcMetricsInterceptor,
        ErrorInterceptor,
        TrustPolicyInterceptor,
        MalformedRequestInterceptor,
        InFlightTracker,
        AuthInterceptor,
        ControlCharacterInterceptor,
        IdempotencyInterceptor,
        DeadlineInterceptor,
    ]
    assert built[6] is tracker


def test_without_mtls_or_a_database_their_interceptors_are_left_out() -> None:
    built = chain.build(service="profile", tracker=InFlightTracker(), validator=testing.ISSUER.validator())
    assert [type(interceptor) for interceptor in built] == [
        LoggingInterceptor,
        ServerSpanInterceptor,
        RpcMetricsInterceptor,
        ErrorInterceptor,
        MalformedRequestInterceptor,
        InFlightTracker,
        AuthInterceptor,
        ControlCharacterInterceptor,
        DeadlineInterceptor,
    ]


def test_without_metrics_the_rpc_metrics_interceptor_is_left_out() -> None:
    built = chain.build(
        service="profile", tracker=InFlightTracker(), validator=testing.ISSUER.validator(), rpc_metrics=False
    )
    assert RpcMetricsInterceptor not in [type(interceptor) for interceptor in built]
    assert type(built[0]) is LoggingInterceptor
