"""Verified access tokens are remembered: a repeated token skips decoding and the signature check, and is
refused exactly as an unremembered one would be once its times fail or its key leaves the key set."""

from __future__ import annotations

from typing import Any

import pytest

from services.kit.security import jose
from services.kit.security.auth import CachedJwks, TokenRejected, TokenValidator
from tests.unit.kit.security.test_auth import AUDIENCE, EC_KEY, ISSUER, NOW, OTHER_RSA, RSA_KEY, KeyPair, _claims, _sign

LEEWAY = 30.0


class Clock:
    """A settable epoch clock shared by a validator and its key cache."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature and claims are decoded (PyJWT's decode) from now on."""
    seen: list[str] = []
    real = jose._decoded

    def counting(token: str, *args: Any) -> dict[str, Any]:
        seen.append(token)
        return real(token, *args)

    monkeypatch.setattr(jose, "_decoded", counting)
    return seen


def _validator(published: list[KeyPair], clock: Clock, *, capacity: int = 16, max_age: float = 300) -> TokenValidator:
    jwks = CachedJwks(lambda: {"keys": [pair.public_jwk for pair in published]}, max_age=max_age, clock=clock)
    return TokenValidator(jwks, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, clock=clock, capacity=capacity)


def _outcome(validator: TokenValidator, token: str) -> str:
    try:
        return validator.validate(token).subject
    except TokenRejected as refused:
        return refused.reason


def test_a_repeated_token_is_verified_once_and_gives_the_same_principal(decodes: list[str]) -> None:
    validator = _validator([RSA_KEY], Clock())
    token = _sign(RSA_KEY, _claims())
    first = validator.validate(token)
    assert [validator.validate(token) for _ in range(5)] == [first] * 5
    assert decodes == [token]
    assert validator.kid(token) == RSA_KEY.kid


def test_expiry_is_honoured_for_a_remembered_token_as_for_a_new_one() -> None:
    token = _sign(RSA_KEY, _claims(exp=NOW + 100))
    clock = Clock()
    remembering = _validator([RSA_KEY], clock)
    assert remembering.validate(token).subject == "client-1"
    for now in (NOW + 100, NOW + 129, NOW + 129.999, NOW + 130, NOW + 131, NOW + 10_000):
        clock.now = now
        fresh = _validator([RSA_KEY], Clock(now))
        assert _outcome(remembering, token) == _outcome(fresh, token), now
    assert _outcome(remembering, token) == "TOKEN_EXPIRED"
    clock.now = NOW  # a clock set back: still only what an unremembered validation would say
    assert _outcome(remembering, token) == "client-1"


def test_a_key_rotated_out_of_the_key_set_refuses_its_remembered_tokens() -> None:
    published = [RSA_KEY, EC_KEY]
    clock = Clock()
    validator = _validator(published, clock, max_age=60)
    token = _sign(RSA_KEY, _claims())
    assert validator.validate(token).subject == "client-1"
    published.remove(RSA_KEY)
    clock.now = NOW + 59  # the key set is not refetched before max_age, with or without remembering
    assert _outcome(validator, token) == "client-1"
    clock.now = NOW + 61
    assert _outcome(validator, token) == "TOKEN_KEY_UNKNOWN"
    assert _outcome(validator, token) == "TOKEN_KEY_UNKNOWN"
    published.append(RSA_KEY)  # published again: accepted again once refetched, as without remembering
    clock.now = NOW + 130
    assert _outcome(validator, token) == "client-1"


def test_another_key_published_under_the_same_kid_refuses_a_remembered_token(decodes: list[str]) -> None:
    impostor = KeyPair(OTHER_RSA.algorithm, OTHER_RSA.private, OTHER_RSA.public_jwk | {"kid": RSA_KEY.kid})
    published = [RSA_KEY]
    clock = Clock()
    validator = _validator(published, clock, max_age=60)
    token = _sign(RSA_KEY, _claims())
    assert validator.validate(token).subject == "client-1"
    published[0] = impostor
    clock.now = NOW + 61
    assert _outcome(validator, token) == "TOKEN_SIGNATURE_INVALID"
    assert decodes == [token, token]


def test_a_token_of_another_tenant_or_a_tampered_copy_is_never_taken_for_a_remembered_one() -> None:
    validator = _validator([RSA_KEY], Clock())
    acme = _sign(RSA_KEY, _claims(company="acme"))
    other = _sign(RSA_KEY, _claims(company="globex", jti="token-2"))
    assert validator.validate(acme).tenant == "acme"
    assert validator.validate(other).tenant == "globex"
    acme_header, _, acme_signature = acme.split(".")
    forged = f"{acme_header}.{other.split('.')[1]}.{acme_signature}"  # globex's claims under acme's signature
    assert _outcome(validator, forged) == "TOKEN_SIGNATURE_INVALID"
    assert validator.validate(acme).tenant == "acme"


def test_refused_tokens_are_not_remembered_and_refused_every_time(decodes: list[str]) -> None:
    validator = _validator([RSA_KEY], Clock())
    token = _sign(RSA_KEY, _claims(aud="another-api"))
    assert [_outcome(validator, token) for _ in range(3)] == ["TOKEN_AUDIENCE_INVALID"] * 3
    assert decodes == [token] * 3


def test_the_remembered_tokens_are_bounded_least_recently_used_first(decodes: list[str]) -> None:
    validator = _validator([RSA_KEY], Clock(), capacity=2)
    first, second, third = (_sign(RSA_KEY, _claims(jti=f"token-{n}")) for n in range(3))
    for token in (first, second, first, third):  # `second` is the least recently used when `third` comes
        validator.validate(token)
    decodes.clear()
    validator.validate(first)
    validator.validate(third)
    assert decodes == []
    validator.validate(second)
    assert decodes == [second]
