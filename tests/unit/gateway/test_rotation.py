"""Rotation under continuous validation: validators with a cached JWKS never reject a live token."""

from __future__ import annotations

import jwt
import pytest

from services.gateway import handlers
from services.gateway.bootstrap import Gateway
from services.gateway.domain.commands import MintToken, RotateKeys
from services.gateway.domain.errors import RotationTooEarly
from services.kit.security.auth import TokenRejected
from tests.unit.gateway.conftest import FakeClock, validator_for

STEP = 60  # seconds between issued tokens


def test_tokens_signed_before_during_and_after_rotations_all_validate(gateway: Gateway, clock: FakeClock) -> None:
    """Four rotations over two hours; validators never refetch on unknown kids, only when their cache expires."""
    validators = [validator_for(gateway, clock, min_refetch=float("inf")) for _ in range(3)]
    command = MintToken(role="service", company_id="acme", subject="acme-sync")
    live: list[tuple[str, float]] = []
    rejected: list[str] = []
    signers: set[str] = set()
    rotations = 0
    for step in range(120):
        clock.advance(STEP)
        if step % 30 == 15:
            handlers.rotate_keys(
                RotateKeys(), uow=gateway.uow, sealer=gateway.sealer, policy=gateway.policy, clock=clock
            )
            rotations += 1
        issued = handlers.mint_token(
            command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock
        )
        signers.add(jwt.get_unverified_header(issued.access_token)["kid"])
        live = [(token, exp) for token, exp in live if exp > clock.epoch()]
        live.append((issued.access_token, issued.claims["exp"]))
        # Validators started at different moments hold JWKS snapshots of different ages.
        for validator in validators[: 1 + step % len(validators)]:
            for token, _ in live:
                try:
                    validator.validate(token)
                except TokenRejected as exc:
                    rejected.append(exc.reason)
    assert rotations == 4
    assert len(signers) == 5
    assert rejected == []


def test_rotating_too_often_is_refused_rather_than_breaking_validators(gateway: Gateway, clock: FakeClock) -> None:
    clock.advance(gateway.policy.publish_lead.total_seconds())
    handlers.rotate_keys(RotateKeys(), uow=gateway.uow, sealer=gateway.sealer, policy=gateway.policy, clock=clock)
    clock.advance(gateway.policy.publish_lead.total_seconds() - 1)
    with pytest.raises(RotationTooEarly) as caught:
        handlers.rotate_keys(RotateKeys(), uow=gateway.uow, sealer=gateway.sealer, policy=gateway.policy, clock=clock)
    assert caught.value.metadata["retry_after_seconds"] == "2"
