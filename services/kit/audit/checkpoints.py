"""Signed checkpoints of the chain: every N records (after the commit that reached it) or on demand.

A checkpoint signs (sequence, hash of that record, time): records up to it can then be neither
rewritten (even with every later hash recomputed) nor dropped from the tail without the verifier
noticing. The gateway signs with its token-signing key ring (a JWS verified against the public keys
in its own database); the other services with an HMAC-SHA256 key of their own (TEEI_AUDIT_KEY or a
key generated once under the var folder), because the gateway's private key never leaves the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit import config
from services.kit.audit.records import AuditRecord, canonical_json, timestamp
from services.kit.audit.settings import AuditConfig
from services.kit.audit.tables import checkpoints, records
from services.kit.clock import Clock, utc_now
from services.kit.logs import get_logger
from services.kit.security import generated, jose

log = get_logger(__name__)
CHECKPOINT_EVERY = 100
KEY_FILE = "audit-checkpoint.key"
HMAC_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Signature:
    """A checkpoint's signature and the key that made it."""

    key_id: str
    algorithm: str
    value: str


@dataclass(frozen=True)
class Checkpoint:
    """One stored checkpoint."""

    sequence: int
    record_hash: str
    signed_at: Any
    signature: Signature

    def payload(self) -> dict[str, Any]:
        """What the signature covers."""
        return payload(self.sequence, self.record_hash, timestamp(self.signed_at))


class Signer(Protocol):
    """Signs a checkpoint's payload."""

    def sign(self, payload: Mapping[str, Any]) -> Signature: ...


class Verifier(Protocol):
    """Checks a checkpoint's signature."""

    def verify(self, payload: Mapping[str, Any], signature: Signature) -> bool: ...


def payload(sequence: int, record_hash: str, signed_at: str) -> dict[str, Any]:
    """The signed statement: "the record at `sequence` has `record_hash`"."""
    return {"typ": "teei-audit-checkpoint", "sequence": sequence, "record_hash": record_hash, "signed_at": signed_at}


class HmacKey:
    """HMAC-SHA256 signer and verifier of one service's checkpoints."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the audit checkpoint key must be at least 32 bytes")
        self._key = key
        self.key_id = hashlib.sha256(b"teei-audit-key:" + key).hexdigest()[:16]

    def sign(self, payload: Mapping[str, Any]) -> Signature:
        """The HMAC of the canonical payload."""
        mac = hmac.new(self._key, canonical_json(dict(payload)), hashlib.sha256).hexdigest()
        return Signature(self.key_id, HMAC_ALGORITHM, mac)

    def verify(self, payload: Mapping[str, Any], signature: Signature) -> bool:
        """Whether this key made the signature."""
        if signature.key_id != self.key_id or signature.algorithm != HMAC_ALGORITHM:
            return False
        return hmac.compare_digest(self.sign(payload).value, signature.value)


def load_key(configured: str | None, var_dir: Path) -> HmacKey:
    """The configured key (base64url, ≥ 32 bytes); in development one generated once into var/ (mode 0600)."""
    if configured:
        return HmacKey(_decoded(configured))
    text = generated.secret_file(
        var_dir / KEY_FILE, event="audit.key_generated", hint="set TEEI_AUDIT_KEY(_FILE) in production"
    )
    return HmacKey(_decoded(text))


class JwsSigner:
    """Signs checkpoints as a compact JWS with a key ring (the gateway's token-signing keys), typed so that
    no token validator accepts one as an access token."""

    TYP = "teei-audit-checkpoint+jwt"

    def __init__(self, sign: Callable[[Mapping[str, Any], str], tuple[str, str, str]]) -> None:
        self._sign = sign  # (claims, typ) -> (kid, alg, compact JWS)

    def sign(self, payload: Mapping[str, Any]) -> Signature:
        """The JWS of the payload, named by the signing key's kid."""
        kid, alg, token = self._sign(payload, self.TYP)
        return Signature(kid, alg, token)


class JwsVerifier:
    """Checks JWS checkpoints against public JWKs (the gateway's published and retired keys)."""

    def __init__(self, jwks: Iterable[Mapping[str, Any]]) -> None:
        self._jwks = {str(jwk.get("kid")): jwk for jwk in jwks}

    def verify(self, payload: Mapping[str, Any], signature: Signature) -> bool:
        """Whether a known key signed exactly this payload."""
        jwk = self._jwks.get(signature.key_id)
        if jwk is None or signature.algorithm not in jose.ALGORITHMS:
            return False
        key = jose.import_jwk(jwk, alg=signature.algorithm)
        if key is None:
            return False
        try:
            header = jwt.get_unverified_header(signature.value)
            claims = jwt.decode(
                signature.value, key.key, algorithms=[signature.algorithm], options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return False
        return header.get("typ") == JwsSigner.TYP and header.get("kid") == signature.key_id and claims == payload


class Verifiers:
    """Checks each checkpoint with the verifier of its algorithm (HS256: the service key; RS256/ES256: the
    gateway's public keys); a checkpoint no verifier here can check fails."""

    def __init__(self, hmac_key: HmacKey | None, jwks: Iterable[Mapping[str, Any]]) -> None:
        self._hmac = hmac_key
        self._jws = JwsVerifier(jwks)

    def verify(self, payload: Mapping[str, Any], signature: Signature) -> bool:
        """Whether the signature is valid under the key it names."""
        if signature.algorithm == HMAC_ALGORITHM:
            return self._hmac is not None and self._hmac.verify(payload, signature)
        return self._jws.verify(payload, signature)


def read_key(configured: str | None, var_dir: Path) -> HmacKey | None:
    """The key to verify with: the configured one, else the one under var/ if it exists (never a new one)."""
    if configured:
        return HmacKey(_decoded(configured))
    path = var_dir / KEY_FILE
    return HmacKey(_decoded(path.read_text())) if path.exists() else None


def _decoded(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Checkpointer:
    """Writes a signed checkpoint once `every` records have been appended since the last one."""

    def __init__(self, signer: Signer, *, every: int = CHECKPOINT_EVERY, clock: Clock = utc_now) -> None:
        self._signer = signer
        self._every = every
        self._clock = clock

    def after_append(self, session: orm.Session, record: AuditRecord) -> None:
        """Schedules a checkpoint after the commit of a record whose sequence is a multiple of `every`:
        signing may read the key ring, which must not wait on the append's own write lock."""
        if record.sequence % self._every != 0:
            return
        bind = session.get_bind()
        engine = bind if isinstance(bind, sa.Engine) else bind.engine

        def committed(_: orm.Session) -> None:
            try:
                self.checkpoint(engine)
            except Exception as exc:  # the audited action committed; `teei audit checkpoint` catches up
                log.warning("audit.checkpoint_failed", sequence=record.sequence, error=type(exc).__name__)

        sa.event.listen(session, "after_commit", committed, once=True)

    def checkpoint(self, engine: sa.Engine) -> Checkpoint | None:
        """Signs the chain's head now; None when the log is empty or the head is signed already."""
        with engine.connect() as connection:
            head = connection.execute(
                sa.select(records.c.sequence, records.c.hash).order_by(records.c.sequence.desc()).limit(1)
            ).first()
            signed = connection.execute(sa.select(sa.func.max(checkpoints.c.sequence))).scalar()
            connection.rollback()
        if head is None or (signed is not None and signed >= head.sequence):
            return None
        signed_at = self._clock()
        signature = self._signer.sign(payload(head.sequence, head.hash, timestamp(signed_at)))
        checkpoint = Checkpoint(head.sequence, head.hash, signed_at, signature)
        try:
            with engine.begin() as connection:
                connection.execute(checkpoints.insert().values(**row(checkpoint)))
        except sa.exc.IntegrityError:
            return None  # another process signed the same head first
        return checkpoint


_checkpointers: weakref.WeakKeyDictionary[sa.Engine, Checkpointer] = weakref.WeakKeyDictionary()


def attach(engine: sa.Engine, checkpointer: Checkpointer) -> None:
    """Makes `checkpointer` sign the log of `engine`'s database (each service's bootstrap does, once)."""
    _checkpointers[engine] = checkpointer


def attached(engine: sa.Engine) -> Checkpointer | None:
    """The checkpointer of `engine`'s log, if its service attached one."""
    return _checkpointers.get(engine)


def hmac_checkpointer(environ: Mapping[str, str], var_dir: Path, *, clock: Clock = utc_now) -> Checkpointer:
    """The checkpointer of a service other than the gateway: HMAC with its configured (or generated) key."""
    settings = config.load(AuditConfig, environ)
    return Checkpointer(load_key(settings.key, var_dir), every=settings.checkpoint_every, clock=clock)


def attach_service_key(engine: sa.Engine, var_dir: Path, environ: Mapping[str, str] | None = None) -> None:
    """Signs `engine`'s log with the service's HMAC key (the bootstrap of every auditing service but the gateway)."""
    attach(engine, hmac_checkpointer(os.environ if environ is None else environ, var_dir))


def row(checkpoint: Checkpoint) -> dict[str, Any]:
    """The stored form of a checkpoint."""
    signature = checkpoint.signature
    return {
        "sequence": checkpoint.sequence,
        "record_hash": checkpoint.record_hash,
        "signed_at": checkpoint.signed_at,
        "key_id": signature.key_id,
        "algorithm": signature.algorithm,
        "signature": signature.value,
    }
