"""Machine clients of the client-credentials grant: per tenant, with a role, scopes and a hashed secret."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.gateway.domain.errors import InvalidClientSpec, InvalidScope
from services.kit import tenants
from services.kit.errors import FieldViolation

CLIENT_ROLES = frozenset({"company_admin", "company_user", "service"})
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")  # RFC 6749 scope-token characters
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_MAX_SCOPES = 32


@dataclass(frozen=True)
class Client:
    """A registered machine client of one company."""

    client_id: str
    company_id: str
    role: str
    scopes: frozenset[str]
    secret_hash: str
    created_at: datetime
    email: str | None = None
    disabled: bool = False


def register(
    *, client_id: str, company_id: str, role: str, scopes: Iterable[str], secret: str, now: datetime
) -> Client:
    """A new client, validated, with its secret hashed."""
    wanted = frozenset(scopes)
    problems = [
        FieldViolation(name, description)
        for name, ok, description in (
            ("client_id", bool(_CLIENT_ID.fullmatch(client_id)), "must be 3-128 letters, digits, '.', '_' or '-'"),
            ("company_id", tenants.is_tenant(company_id), f"must be {tenants.GRAMMAR}"),
            ("role", role in CLIENT_ROLES, f"must be one of {', '.join(sorted(CLIENT_ROLES))}"),
            (
                "scopes",
                len(wanted) <= _MAX_SCOPES and all(map(_SCOPE.fullmatch, wanted)),
                "must be up to 32 scope tokens",
            ),
            ("secret", len(secret) >= 32, "must be at least 32 characters"),
        )
        if not ok
    ]
    if problems:
        named = "; ".join(f"{v.field} {v.description}" for v in problems)
        raise InvalidClientSpec(f"the client registration is invalid: {named}", violations=problems)
    return Client(client_id, company_id, role, wanted, hash_secret(secret), now)


def new_secret() -> str:
    """A fresh client secret (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, with a random per-secret salt."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    parts = (str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"]), _b64(salt), _b64(digest))
    return "scrypt$" + "$".join(parts)


def secret_matches(secret: str, stored: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32, maxmem=64 * 1024 * 1024
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@functools.cache
def _decoy_hash() -> str:
    return hash_secret(new_secret())


def burn_time(secret: str) -> None:
    """Spends the same work as a real check so unknown client ids are not revealed by timing."""
    secret_matches(secret, _decoy_hash())


def grant_scopes(client: Client, requested: str) -> frozenset[str]:
    """The requested scopes (all the client's when none are named); any scope not granted is refused."""
    wanted = frozenset(requested.split())
    if not wanted:
        return client.scopes
    refused = wanted - client.scopes
    if refused:
        raise InvalidScope(f"scope not granted to this client: {' '.join(sorted(refused))}")
    return wanted


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
