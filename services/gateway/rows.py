"""Rows ⇄ domain objects for the gateway's tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from services.gateway.domain.clients import Client
from services.gateway.domain.keys import KeyState, SigningKey
from services.gateway.domain.privacy import (
    SERVICES,
    DataSubject,
    PartStatus,
    PrivacyRequest,
    RequestKind,
    RequestStatus,
    ServiceOutcome,
)
from services.gateway.domain.sso import PendingLogin


def key_row(key: SigningKey) -> dict[str, object]:
    """The `signing_keys` row of a key."""
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": key.state.value,
        "public_jwk": json.dumps(dict(key.public_jwk), sort_keys=True),
        "sealed_private_key": key.sealed_private_key,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
    }


def to_key(row: sa.RowMapping) -> SigningKey:
    """The key a `signing_keys` row holds."""
    return SigningKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        state=KeyState(row["state"]),
        public_jwk=json.loads(row["public_jwk"]),
        sealed_private_key=row["sealed_private_key"],
        created_at=row["created_at"],
        activated_at=row["activated_at"],
        retired_at=row["retired_at"],
    )


def client_row(client: Client) -> dict[str, object]:
    """The `oauth_clients` row of a client."""
    return {
        "client_id": client.client_id,
        "company_id": client.company_id,
        "role": client.role,
        "scopes": " ".join(sorted(client.scopes)),
        "secret_hash": client.secret_hash,
        "email": client.email,
        "disabled": client.disabled,
        "created_at": client.created_at,
    }


def to_client(row: sa.RowMapping | Mapping[str, Any]) -> Client:
    """The client an `oauth_clients` row holds."""
    return Client(
        client_id=row["client_id"],
        company_id=row["company_id"],
        role=row["role"],
        scopes=frozenset(row["scopes"].split()),
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        email=row["email"],
        disabled=row["disabled"],
    )


def login_row(login: PendingLogin) -> dict[str, object]:
    """The `sso_logins` row of a pending login."""
    return {
        "state_hash": login.state_hash,
        "provider": login.provider,
        "nonce": login.nonce,
        "code_verifier": login.code_verifier,
        "redirect_uri": login.redirect_uri,
        "created_at": login.created_at,
        "expires_at": login.expires_at,
        "used_at": login.used_at,
    }


def to_login(row: sa.RowMapping) -> PendingLogin:
    """The pending login an `sso_logins` row holds."""
    return PendingLogin(
        state_hash=row["state_hash"],
        provider=row["provider"],
        nonce=row["nonce"],
        code_verifier=row["code_verifier"],
        redirect_uri=row["redirect_uri"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


def request_row(request: PrivacyRequest) -> dict[str, object]:
    """The `privacy_requests` row of a data-subject request."""
    return {
        "request_id": request.request_id,
        "company_id": request.subject.company_id,
        "kind": request.kind.value,
        "subject_profile_id": request.subject.profile_id,
        "subject_email": request.subject.email,
        "requested_by": request.requested_by,
        "reason": request.reason,
        "own": request.own,
        "status": request.status.value,
        "created_at": request.created_at,
        "due_at": request.due_at,
        "completed_at": request.completed_at,
        "next_attempt_at": request.next_attempt_at(),
    }


def outcome_row(request_id: str, outcome: ServiceOutcome) -> dict[str, object]:
    """The `privacy_outcomes` row of one service's part."""
    return {
        "request_id": request_id,
        "service": outcome.service,
        "status": outcome.status.value,
        "found": outcome.found,
        "exported": outcome.exported,
        "erased": outcome.erased,
        "retained": outcome.retained,
        "retained_reason": outcome.retained_reason,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at,
    }


def to_request(row: Mapping[str, Any], outcomes: Sequence[sa.RowMapping]) -> PrivacyRequest:
    """The request a `privacy_requests` row and its `privacy_outcomes` rows hold (outcomes in service order)."""
    order = {name: i for i, name in enumerate(SERVICES)}
    parts = sorted((_to_outcome(o) for o in outcomes), key=lambda o: (order.get(o.service, len(order)), o.service))
    return PrivacyRequest(
        request_id=row["request_id"],
        kind=RequestKind(row["kind"]),
        subject=DataSubject(row["company_id"], row["subject_profile_id"], row["subject_email"]),
        requested_by=row["requested_by"],
        reason=row["reason"],
        own=row["own"],
        status=RequestStatus(row["status"]),
        outcomes=tuple(parts),
        created_at=row["created_at"],
        due_at=row["due_at"],
        completed_at=row["completed_at"],
    )


def _to_outcome(row: sa.RowMapping) -> ServiceOutcome:
    return ServiceOutcome(
        service=row["service"],
        status=PartStatus(row["status"]),
        found=row["found"],
        exported=row["exported"],
        erased=row["erased"],
        retained=row["retained"],
        retained_reason=row["retained_reason"],
        attempts=row["attempts"],
        error=row["error"],
        next_attempt_at=row["next_attempt_at"],
    )
