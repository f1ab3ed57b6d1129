"""What the gateway's security and privacy actions record in the audit log: token issue, sign-in, clients,
keys, and every step of a data-subject request (received, refused, each service's part, settled)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.gateway.domain.clients import Client
from services.gateway.domain.keys import Rotation, SigningKey
from services.gateway.domain.privacy import PartStatus, PrivacyRequest
from services.kit.audit.records import Actor, ActorKind, AuditEntry, Outcome

# The gateway's background worker drives a request's parts after the requester's call has returned.
PRIVACY_WORKER = Actor(ActorKind.SYSTEM, "gateway:privacy-worker")


def token_issued(action: str, claims: Mapping[str, object], actor: Actor | None) -> AuditEntry:
    """A token handed out: to whom, for which tenant, with which role, scopes and lifetime (never the token)."""
    company = claims.get("company")
    after = {key: claims[key] for key in ("sub", "role", "scope", "jti", "iat", "exp") if key in claims}
    return AuditEntry(
        action=action,
        resource=f"token:{claims.get('jti', '')}",
        tenant=company if isinstance(company, str) else None,
        after=after,
        actor=actor,
    )


def client_refused(client_id: str) -> AuditEntry:
    """A failed client authentication at the token endpoint."""
    return AuditEntry(
        action="token.refused",
        resource=f"client:{client_id[:200]}",
        outcome=Outcome.DENIED,
        after={"grant": "client_credentials"},
    )


def client_registered(client: Client) -> AuditEntry:
    """A machine client registered (its secret is stored hashed and never recorded)."""
    after = {"client_id": client.client_id, "role": client.role, "scopes": sorted(client.scopes)}
    return AuditEntry(
        action="client.registered", resource=f"client:{client.client_id}", tenant=client.company_id, after=after
    )


def keys_rotated(plan: Rotation, fresh: SigningKey, ring: Sequence[SigningKey]) -> AuditEntry:
    """A rotation of the token-signing key ring: which key was retired, promoted and added."""
    before = {
        "retired": plan.retire.kid if plan.retire else None,
        "promoted": plan.promote.kid if plan.promote else None,
    }
    after = {"added": fresh.kid, "added_state": fresh.state.value, "ring": {key.kid: key.state.value for key in ring}}
    return AuditEntry(action="keys.rotated", resource=f"signing_key:{fresh.kid}", before=before, after=after)


def privacy_request_received(request: PrivacyRequest) -> AuditEntry:
    """A data-subject request accepted: by whom (the RPC's caller), of which kind, about which profile id
    (the e-mail it may name is redacted) and which services owe a part."""
    after = {
        "kind": request.kind.value,
        "own": request.own,
        "subject_profile_id": request.subject.profile_id,
        "email": request.subject.email,
        "services": [part.service for part in request.outcomes],
        "due_at": request.due_at.isoformat(),
    }
    return AuditEntry(
        action=f"privacy.{request.kind.value}.received",
        resource=f"privacy_request:{request.request_id}",
        tenant=request.subject.company_id,
        after=after,
    )


def privacy_request_refused(kind: str, company_id: str, error: Exception) -> AuditEntry:
    """A data-subject request turned down before it was recorded, with the reason the caller was given."""
    return AuditEntry(
        action=f"privacy.{kind}.refused",
        resource="privacy_request:-",
        tenant=company_id,
        outcome=Outcome.DENIED,
        after={"error": type(error).__name__, "reason": str(error)[:500]},
    )


def privacy_part_settled(
    request: PrivacyRequest, service: str, *, stream_messages: Mapping[str, int] | None = None
) -> AuditEntry:
    """One service's part of a request confirmed or refused for good, with its counts (for the gateway's part
    of an erasure, the messages erased from each event stream); when it was the last part, the request's
    final status too."""
    part = request.outcome(service)
    after: dict[str, object] = {
        "service": service,
        "part": part.status.value,
        "found": part.found,
        "exported": part.exported,
        "erased": part.erased,
        "retained": part.retained,
        "retained_reason": part.retained_reason,
        "error": part.error[:500],
        "request_status": request.status.value,
    }
    if stream_messages is not None:
        after["stream_messages_erased"] = dict(sorted(stream_messages.items()))
    return AuditEntry(
        action=f"privacy.{request.kind.value}.part_settled",
        resource=f"privacy_request:{request.request_id}",
        tenant=request.subject.company_id,
        outcome=Outcome.FAILED if part.status is PartStatus.FAILED else Outcome.SUCCESS,
        after=after,
        actor=PRIVACY_WORKER,
    )
