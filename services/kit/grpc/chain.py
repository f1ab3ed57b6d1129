"""The server interceptor chain of every service, assembled in one place and in one order."""

from __future__ import annotations

import functools

import grpc

from services.kit.audit import denials as denial_log
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
from services.kit.security import auth
from services.kit.security.mtls import TrustPolicyInterceptor
from services.kit.security.trust_policy import TrustPolicy
from services.kit.telemetry.rpc_metrics import RpcMetricsInterceptor
from services.kit.telemetry.server_spans import ServerSpanInterceptor


def build(
    *,
    service: str,
    tracker: InFlightTracker,
    validator: auth.TokenValidator,
    policy: TrustPolicy | None = None,
    idempotency: IdempotencyStore | None = None,
    rpc_metrics: bool = True,
    denials: denial_log.Recorder | None = None,
) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors of `service`'s server, outermost first:

    1. logging: every call, refused or not, gets a request id and a line with its outcome;
    1a. server span: the call's trace span (continuing the caller's traceparent), so every line logged
        and every error detail inside names the trace;
    1b. RPC metrics (`rpc_metrics`): every call's duration and final status, refusals included;
    2. error mapping: whatever is raised inside becomes a google.rpc.Status, refusals included;
    3. trust policy (with mTLS): a caller the policy does not allow is refused before any work (and the
       refusal of a proven peer recorded in `denials`, the service's audit log);
    4. malformed requests: bytes that are not the request message are INVALID_ARGUMENT;
    5. in-flight tracking: counts calls so shutdown can drain them, refuses new ones once draining;
    6. authentication and access rules: the caller's token, or a service acting for a tenant as granted;
       a refusal of the proven caller, here or by the handler, is recorded in `denials`;
    7. control characters: a request string holding one is INVALID_ARGUMENT naming the field; after
       authentication, so an anonymous caller learns nothing about the fields, and before idempotency,
       so a refused request claims no key;
    8. idempotency keys (with a database): after authentication, since a key belongs to its caller;
    9. deadline: innermost, so outgoing calls made by the handler inherit the incoming deadline.
    """
    may_act = None if policy is None else functools.partial(policy.may_act, service)
    trust = [] if policy is None else [TrustPolicyInterceptor(policy, service, denials=denials)]
    keys = [] if idempotency is None else [IdempotencyInterceptor(idempotency)]
    measured = [RpcMetricsInterceptor()] if rpc_metrics else []
    return [
        LoggingInterceptor(),
        ServerSpanInterceptor(),
        *measured,
        ErrorInterceptor(domain=f"{service}.teei"),
        *trust,
        MalformedRequestInterceptor(),
        tracker,
        AuthInterceptor(validator, may_act=may_act, denials=denials),
        ControlCharacterInterceptor(),
        *keys,
        DeadlineInterceptor(),
    ]
