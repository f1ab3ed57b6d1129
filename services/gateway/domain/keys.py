"""The signing-key ring: keys move next → active → retired, and the JWKS publishes each long enough."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.gateway.domain.errors import RotationTooEarly

ALGORITHMS = ("RS256", "ES256")
# No token outlives this, whatever the configured lifetime; retired keys stay published this long.
MAX_TOKEN_LIFETIME = timedelta(hours=1)


class KeyState(StrEnum):
    """Where a key is in its life."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class KeyPolicy:
    """How long clients may cache the JWKS, how long the gateway caches the ring, and the validators' skew."""

    jwks_max_age: timedelta = timedelta(minutes=5)
    ring_cache: timedelta = timedelta(seconds=5)
    clock_skew: timedelta = timedelta(seconds=30)

    @property
    def publish_lead(self) -> timedelta:
        """How long a next key must be published before it may sign: every cached JWKS then holds it."""
        return self.jwks_max_age + self.ring_cache

    @property
    def retired_published_for(self) -> timedelta:
        """Every token a key signed has expired (with skew) this long after the key's retirement."""
        return MAX_TOKEN_LIFETIME + self.clock_skew


@dataclass(frozen=True)
class SigningKey:
    """One key pair; the private half stays sealed (encrypted) outside the signer."""

    kid: str
    algorithm: str
    state: KeyState
    public_jwk: Mapping[str, str]
    sealed_private_key: bytes
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None

    def is_published(self, now: datetime, policy: KeyPolicy) -> bool:
        """Next and active keys always; retired ones until every token they signed has expired."""
        if self.state is not KeyState.RETIRED:
            return True
        return self.retired_at is None or now < self.retired_at + policy.retired_published_for


@dataclass(frozen=True)
class Rotation:
    """The state changes of one rotation; a fresh next key is always added."""

    promote: SigningKey | None
    retire: SigningKey | None
    new_key_state: KeyState


def active_key(keys: Sequence[SigningKey]) -> SigningKey | None:
    """The key that signs now."""
    return next((key for key in keys if key.state is KeyState.ACTIVE), None)


def next_key(keys: Sequence[SigningKey]) -> SigningKey | None:
    """The key published ahead of its use."""
    return next((key for key in keys if key.state is KeyState.NEXT), None)


def published(keys: Sequence[SigningKey], now: datetime, policy: KeyPolicy) -> list[SigningKey]:
    """The keys the JWKS carries: next, active, then retired ones still needed, newest first."""
    order = {KeyState.NEXT: 0, KeyState.ACTIVE: 1, KeyState.RETIRED: 2}
    kept = [key for key in keys if key.is_published(now, policy)]
    return sorted(kept, key=lambda key: (order[key.state], -key.created_at.timestamp()))


def plan_rotation(keys: Sequence[SigningKey], *, now: datetime, policy: KeyPolicy, force: bool) -> Rotation:
    """Next → active and active → retired, once the next key has been published a whole cache period.

    A fresh ring gets an active key at once (nothing can have cached an empty JWKS's successor), and
    every rotation publishes a new next key so the following rotation can promote it safely.
    """
    current, upcoming = active_key(keys), next_key(keys)
    if upcoming is None:
        return Rotation(promote=None, retire=None, new_key_state=KeyState.NEXT if current else KeyState.ACTIVE)
    ready_at = upcoming.created_at + policy.publish_lead
    if current is not None and now < ready_at and not force:
        wait = int((ready_at - now).total_seconds()) + 1
        raise RotationTooEarly(
            f"key {upcoming.kid} has been published for less than one JWKS cache period; retry in {wait} s",
            metadata={"kid": upcoming.kid, "retry_after_seconds": str(wait)},
        )
    promoted = replace(upcoming, state=KeyState.ACTIVE, activated_at=now)
    retired = None if current is None else replace(current, state=KeyState.RETIRED, retired_at=now)
    return Rotation(promote=promoted, retire=retired, new_key_state=KeyState.NEXT)
