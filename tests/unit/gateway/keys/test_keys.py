"""The key ring: thumbprints, sealing at rest, next → active → retired, and what the JWKS publishes."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.gateway import bootstrap, handlers, queries
from services.gateway.bootstrap import Gateway
from services.gateway.domain.commands import RotateKeys
from services.gateway.domain.errors import KeyUnsealFailed, RotationTooEarly
from services.gateway.domain.keys import MAX_TOKEN_LIFETIME, KeyState
from services.gateway.keys import crypto, sealing
from services.gateway.keys.ring import KeyRing
from services.gateway.tables import signing_keys
from services.kit.persistence import db
from services.kit.security import jose
from tests.unit.gateway.conftest import ENVIRON, FakeClock


def _states(gateway: Gateway) -> dict[str, KeyState]:
    return {key.kid: key.state for key in queries.list_keys(uow=gateway.uow)}


def _rotate(gateway: Gateway, clock: FakeClock, *, force: bool = False, algorithm: str = "RS256") -> None:
    command = RotateKeys(algorithm=algorithm, force=force)
    handlers.rotate_keys(command, uow=gateway.uow, sealer=gateway.sealer, policy=gateway.policy, clock=clock)


@pytest.mark.parametrize(("algorithm", "kty"), [("RS256", "RSA"), ("ES256", "EC")])
def test_generated_keys_are_named_by_their_thumbprint(algorithm: str, kty: str) -> None:
    pair = crypto.generate(algorithm)
    assert pair.public_jwk["kty"] == kty
    assert pair.public_jwk["kid"] == pair.kid == jose.thumbprint(pair.public_jwk)
    assert {"d", "p", "q"}.isdisjoint(pair.public_jwk)
    if kty == "RSA":
        modulus = base64.urlsafe_b64decode(pair.public_jwk["n"] + "==")
        assert len(modulus) * 8 == 2048


def test_fresh_ring_has_one_active_and_one_next_key(gateway: Gateway) -> None:
    assert sorted(_states(gateway).values()) == [KeyState.ACTIVE, KeyState.NEXT]
    assert [key.state for key in gateway.keys.published()] == [KeyState.NEXT, KeyState.ACTIVE]


def test_private_keys_are_encrypted_at_rest(gateway: Gateway) -> None:
    with gateway.engine.connect() as connection:
        rows = connection.execute(sa.select(signing_keys.c.kid, signing_keys.c.sealed_private_key)).all()
    for kid, sealed in rows:
        assert b"PRIVATE KEY" not in sealed
        assert gateway.sealer.unseal(kid, sealed) is not None
        with pytest.raises(KeyUnsealFailed):
            gateway.sealer.unseal("another-kid", sealed)  # the kid is bound as associated data


def test_another_key_encryption_key_cannot_sign(gateway: Gateway, clock: FakeClock) -> None:
    wrong = sealing.KeySealer(b"w" * 32)
    ring = KeyRing(gateway.uow, wrong, clock=clock, policy=gateway.policy)
    with pytest.raises(KeyUnsealFailed):
        ring.sign({"sub": "x"})


def test_rotation_promotes_next_only_after_a_cache_period(gateway: Gateway, clock: FakeClock) -> None:
    before = _states(gateway)
    upcoming = next(kid for kid, state in before.items() if state is KeyState.NEXT)
    with pytest.raises(RotationTooEarly):
        _rotate(gateway, clock)
    assert _states(gateway) == before
    clock.advance(gateway.policy.publish_lead.total_seconds())
    _rotate(gateway, clock)
    after = _states(gateway)
    assert after[upcoming] is KeyState.ACTIVE
    assert sorted(after.values()) == [KeyState.ACTIVE, KeyState.NEXT, KeyState.RETIRED]


def test_forced_rotation_skips_the_wait(gateway: Gateway, clock: FakeClock) -> None:
    _rotate(gateway, clock, force=True, algorithm="ES256")
    upcoming = next(key for key in queries.list_keys(uow=gateway.uow) if key.state is KeyState.NEXT)
    assert upcoming.algorithm == "ES256"
    assert sorted(_states(gateway).values()) == [KeyState.ACTIVE, KeyState.NEXT, KeyState.RETIRED]


def test_retired_keys_stay_published_until_their_tokens_expired(gateway: Gateway, clock: FakeClock) -> None:
    old_active = next(kid for kid, state in _states(gateway).items() if state is KeyState.ACTIVE)
    clock.advance(400)
    _rotate(gateway, clock)
    window = (MAX_TOKEN_LIFETIME + gateway.policy.clock_skew).total_seconds()
    clock.advance(window - 1)
    gateway.keys.invalidate()
    assert old_active in {key.kid for key in gateway.keys.published()}
    clock.advance(1)
    gateway.keys.invalidate()
    published = {key.kid for key in gateway.keys.published()}
    assert old_active not in published
    assert len(published) == 2


def test_ring_changes_reach_a_running_gateway_without_restart(gateway: Gateway, clock: FakeClock) -> None:
    clock.advance(400)
    before = {key.kid for key in gateway.keys.published()}
    _rotate(gateway, clock)  # as `teei keys rotate` would, straight to the database
    assert {key.kid for key in gateway.keys.published()} == before  # within the ring cache
    clock.advance(gateway.policy.ring_cache.total_seconds())
    assert len({key.kid for key in gateway.keys.published()} - before) == 1


def test_one_active_key_at_most_even_when_written_directly(gateway: Gateway) -> None:
    with gateway.engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(signing_keys.update().values(state="active"))


def test_dev_key_encryption_key_is_generated_private_and_reused(tmp_path: Path, clock: FakeClock) -> None:
    environ = {name: value for name, value in ENVIRON.items() if name != "TEEI_KEY_ENCRYPTION_KEY"}
    url = db.sqlite_url(tmp_path / "gateway.db")
    first = bootstrap.open_gateway(url, tmp_path, environ=environ, clock=clock)
    kek_file = tmp_path / sealing.KEK_FILE
    assert stat.S_IMODE(os.stat(kek_file).st_mode) == 0o600
    first.engine.dispose()
    second = bootstrap.open_gateway(url, tmp_path, environ=environ, clock=clock)
    try:
        assert second.keys.sign({"sub": "x"}).count(".") == 2  # the same KEK unseals the stored key
    finally:
        second.engine.dispose()


def test_key_encryption_key_from_a_file(tmp_path: Path, clock: FakeClock) -> None:
    secret_file = tmp_path / "kek"
    secret_file.write_text(base64.urlsafe_b64encode(b"f" * 32).decode() + "\n")
    environ = {"TEEI_KEY_ENCRYPTION_KEY_FILE": str(secret_file)}
    opened = bootstrap.open_gateway(db.sqlite_url(tmp_path / "g.db"), tmp_path, environ=environ, clock=clock)
    try:
        assert not (tmp_path / sealing.KEK_FILE).exists()
        kid = queries.list_keys(uow=opened.uow)[0].kid
        sealed = queries.list_keys(uow=opened.uow)[0].sealed_private_key
        assert sealing.KeySealer(b"f" * 32).unseal(kid, sealed) is not None
    finally:
        opened.engine.dispose()


@pytest.mark.parametrize("value", ["not base64 at all!", base64.b64encode(b"short").decode()])
def test_malformed_key_encryption_key_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="TEEI_KEY_ENCRYPTION_KEY"):
        sealing.parse_kek(value)


def test_jwks_document_has_only_public_members(gateway: Gateway) -> None:
    for key in gateway.keys.published():
        assert set(key.public_jwk) == {"kty", "n", "e", "use", "alg", "kid"}
        assert json.dumps(dict(key.public_jwk))


def test_lifetime_never_exceeds_the_retirement_window() -> None:
    assert timedelta(minutes=15) < MAX_TOKEN_LIFETIME
