"""What the gateway's security actions record in the audit log: token issue, sign-in, clients and keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.gateway.domain.clients import Client
from services.gateway.domain.keys import Rotation, SigningKey
from services.kit.audit.records import Actor, AuditEntry, Outcome


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
