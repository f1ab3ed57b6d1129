"""The gateway's audit records: token issue names the authenticated client, a refused one names nobody,
clients and key rotations name the operator or the start-up, and no secret or token enters the log."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from services.gateway import handlers
from services.gateway.bootstrap import Gateway
from services.gateway.domain.commands import IssueToken
from services.gateway.domain.errors import InvalidClient
from services.kit.audit import actors, checkpoints
from services.kit.audit.tables import records
from services.kit.audit.verify import verify
from services.kit.security.auth import TokenRejected
from tests.unit.gateway.conftest import FakeClock, register, validator_for


def _log(gateway: Gateway) -> list[dict[str, Any]]:
    with gateway.engine.connect() as connection:
        rows = connection.execute(sa.select(records).order_by(records.c.sequence)).mappings()
        return [dict(row) | {"diff": json.loads(row["diff"])} for row in rows]


def test_start_up_rotations_are_recorded_as_the_system(gateway: Gateway) -> None:
    rotations = [r for r in _log(gateway) if r["action"] == "keys.rotated"]
    assert [(r["actor"], r["actor_kind"], r["tenant"]) for r in rotations] == [("gateway:start-up", "system", None)] * 2


def test_a_registered_client_is_recorded_with_the_operator_and_without_its_secret(gateway: Gateway) -> None:
    with actors.acting_as(actors.operator()):
        secret = register(gateway, "acme-sync", "acme", "service", "profiles:read")
    (record,) = [r for r in _log(gateway) if r["action"] == "client.registered"]
    assert (record["actor_kind"], record["tenant"], record["resource"]) == ("operator", "acme", "client:acme-sync")
    assert record["actor"].startswith("cli:")
    assert record["diff"]["after"] == {"client_id": "acme-sync", "role": "service", "scopes": ["profiles:read"]}
    assert secret not in json.dumps(_log(gateway), default=str)


def test_an_issued_token_is_recorded_with_the_client_as_actor(gateway: Gateway) -> None:
    secret = register(gateway, "acme-sync", "acme")
    command = IssueToken(grant_type="client_credentials", client_id="acme-sync", client_secret=secret)
    issued = handlers.issue_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings)
    record = _log(gateway)[-1]
    assert (record["action"], record["actor"], record["actor_kind"]) == ("token.issued", "acme-sync", "client")
    assert (record["tenant"], record["outcome"]) == ("acme", "success")
    assert record["resource"] == f"token:{issued.claims['jti']}"
    assert issued.access_token not in json.dumps(_log(gateway), default=str)


@pytest.mark.parametrize("client_id", ["acme-sync", "nobody"])
def test_a_refused_client_is_recorded_as_denied_and_anonymous(gateway: Gateway, client_id: str) -> None:
    register(gateway, "acme-sync", "acme")
    command = IssueToken(grant_type="client_credentials", client_id=client_id, client_secret="wrong")
    with pytest.raises(InvalidClient):
        handlers.issue_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings)
    record = _log(gateway)[-1]
    assert (record["action"], record["outcome"], record["actor_kind"]) == ("token.refused", "denied", "anonymous")
    assert record["resource"] == f"client:{client_id}"


def test_checkpoints_are_signed_by_the_key_ring_and_are_no_access_tokens(gateway: Gateway, clock: FakeClock) -> None:
    checkpointer = checkpoints.attached(gateway.engine)
    assert checkpointer is not None
    made = checkpointer.checkpoint(gateway.engine)
    assert made is not None
    assert made.signature.algorithm == "RS256"
    with gateway.engine.connect() as connection:
        jwks = [dict(key.public_jwk) for key in gateway.keys.published()]
        report = verify(connection, checkpoints.Verifiers(None, jwks))
    assert (report.ok, report.checkpoints) == (True, 1)
    with pytest.raises(TokenRejected):
        validator_for(gateway, clock).validate(made.signature.value)
