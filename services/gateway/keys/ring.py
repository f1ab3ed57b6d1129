"""The gateway's view of the key ring: read from the database with a short cache, so rotations need no restart."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.gateway.domain import keys as ring
from services.gateway.domain.errors import NoSigningKey
from services.gateway.domain.keys import KeyPolicy, SigningKey
from services.gateway.keys.crypto import sign_jwt
from services.gateway.keys.sealing import KeySealer
from services.gateway.repository import GatewayUnitOfWork
from services.kit.clock import Clock
from services.kit.security import jose
from services.kit.security.jose import PrivateKey
from services.kit.telemetry.metrics import GaugeSource


@dataclass(frozen=True)
class _Snapshot:
    keys: list[SigningKey]
    loaded_at: datetime


class KeyRing:
    """Published keys and the signer; the database is re-read at most every `ttl`."""

    def __init__(
        self,
        uow: GatewayUnitOfWork,
        sealer: KeySealer,
        *,
        clock: Clock,
        policy: KeyPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._sealer = sealer
        self._clock = clock
        self.policy = policy or KeyPolicy()
        self._ttl = self.policy.ring_cache
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._unsealed: dict[str, PrivateKey] = {}

    def published(self) -> list[SigningKey]:
        """The keys the JWKS carries now."""
        now = self._clock()
        return ring.published(self._keys(now), now, self.policy)

    def sign(self, claims: Mapping[str, object]) -> str:
        """The claims signed with the active key."""
        key = ring.active_key(self._keys(self._clock()))
        if key is None:
            raise NoSigningKey("no active signing key; run `teei keys rotate`")
        return sign_jwt(claims, self._private(key), algorithm=key.algorithm, kid=key.kid)

    def sign_document(self, claims: Mapping[str, object], typ: str) -> tuple[str, str, str]:
        """(kid, alg, compact JWS) of non-token claims (audit checkpoints) signed with the active key; the
        `typ` header keeps them from passing as access tokens."""
        key = ring.active_key(self._keys(self._clock()))
        if key is None:
            raise NoSigningKey("no active signing key; run `teei keys rotate`")
        signed = jose.sign(claims, self._private(key), alg=key.algorithm, headers={"kid": key.kid, "typ": typ})
        return key.kid, key.algorithm, signed

    def active_key_age(self) -> float | None:
        """Seconds since the signing key was activated (created, if never marked so); None without one."""
        now = self._clock()
        key = ring.active_key(self._keys(now))
        return None if key is None else (now - (key.activated_at or key.created_at)).total_seconds()

    def gauges(self) -> list[GaugeSource]:
        """The signing key's age, read when the metrics are scraped."""

        def age() -> list[tuple[tuple[str, ...], float]]:
            seconds = self.active_key_age()
            return [] if seconds is None else [((), seconds)]

        return [GaugeSource("gateway_signing_key_age_seconds", "Age of the active token-signing key.", (), age)]

    def invalidate(self) -> None:
        """Forgets the cached ring (after a rotation in this process)."""
        with self._lock:
            self._snapshot = None

    def _keys(self, now: datetime) -> list[SigningKey]:
        with self._lock:
            snapshot = self._snapshot
            # A clock that moved backwards also refreshes: never trust a snapshot from "the future".
            if snapshot is None or not snapshot.loaded_at <= now < snapshot.loaded_at + self._ttl:
                with self._uow.begin() as repo:
                    snapshot = _Snapshot(keys=repo.keys.all(), loaded_at=now)
                self._snapshot = snapshot
            return snapshot.keys

    def _private(self, key: SigningKey) -> PrivateKey:
        with self._lock:
            private = self._unsealed.get(key.kid)
            if private is None:
                private = self._sealer.unseal(key.kid, key.sealed_private_key)
                self._unsealed = {key.kid: private}  # only the active key is ever needed
            return private
