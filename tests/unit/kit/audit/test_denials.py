"""Refused calls in the audit log: the first of a kind is recorded at once by its proven caller; identical
ones within the window make one more record with their count when it closes; kinds beyond the cap are
counted together; an unproven caller is not recorded; the chain still verifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.kit import errors
from services.kit.audit import denials
from services.kit.audit.records import Actor, ActorKind
from services.kit.audit.tables import records
from services.kit.audit.trail import AuditLog
from services.kit.persistence import db
from services.kit.security import tenancy
from services.kit.security.auth import Principal
from tests.unit.kit.audit.support import migrated, verified

RPC = "/teei.gateway.v1.GatewayService/ExportSubjectData"
MALLORY = Principal(subject="mallory", tenant="acme", role="participant")


@dataclass
class Ticks:
    """A monotonic clock the test moves."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = migrated(db.sqlite_url(tmp_path / "audit.db"))
    yield engine
    engine.dispose()


def _log(engine: sa.Engine, ticks: Ticks, *, max_kinds: int = 200) -> denials.DenialLog:
    return denials.DenialLog(AuditLog(db.UnitOfWork(engine)), window=60.0, max_kinds=max_kinds, clock=ticks)


def _stored(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(records).order_by(records.c.sequence)).mappings()
        return [dict(row) | {"after": json.loads(row["diff"])["after"]} for row in rows]


def _denied(principal: Principal = MALLORY, rpc: str = RPC) -> denials.Denial:
    refusal = errors.PermissionDenied(f"role {principal.role} lacks PERMISSION_DATA_EXPORT")
    with tenancy.bound_principal(principal):
        denial = denials.of(refusal, rpc=rpc)
    assert denial is not None
    return denial


async def test_a_refusal_is_recorded_at_once_naming_the_proven_caller_tenant_and_rpc(engine: sa.Engine) -> None:
    await _log(engine, Ticks()).record(_denied())
    (record,) = _stored(engine)
    assert (record["actor"], record["actor_kind"], record["tenant"]) == ("mallory", "token", "acme")
    assert (record["action"], record["resource"], record["outcome"]) == ("access.denied", f"rpc:{RPC}", "denied")
    assert record["after"] == {
        "rpc": RPC,
        "reason": "PERMISSION_DENIED",
        "answered": "PERMISSION_DENIED",
        "message": "role participant lacks PERMISSION_DATA_EXPORT",
        "count": 1,
    }
    assert verified(engine).ok


async def test_identical_refusals_within_the_window_make_one_more_record_with_their_count(engine: sa.Engine) -> None:
    ticks = Ticks()
    log = _log(engine, ticks)
    for _ in range(500):
        await log.record(_denied())
        ticks.now += 0.1
    assert len(_stored(engine)) == 1  # the first at once; 499 counted, not written
    await log.record(_denied(rpc="/teei.gateway.v1.GatewayService/DeleteSubjectData"))  # another kind: at once
    assert len(_stored(engine)) == 2
    ticks.now += 60
    await log.close_due()
    first, other, summary = _stored(engine)
    assert summary["resource"] == first["resource"]
    assert (summary["actor"], summary["tenant"], summary["outcome"]) == ("mallory", "acme", "denied")
    assert summary["after"]["count"] == 499
    assert summary["after"]["repeats_of"] == first["sequence"]
    assert summary["after"]["window_seconds"] == 60.0
    assert other["after"]["count"] == 1
    await log.record(_denied())  # a new window: recorded at once again
    assert len(_stored(engine)) == 4
    assert verified(engine).ok


async def test_kinds_beyond_the_cap_are_counted_together_and_flushed_at_stop(engine: sa.Engine) -> None:
    log = _log(engine, Ticks(), max_kinds=3)
    for n in range(10):
        await log.record(_denied(Principal(subject=f"user-{n}", tenant="acme", role="participant")))
    assert len(_stored(engine)) == 3
    await log.stop()
    stored = _stored(engine)
    assert len(stored) == 4
    overflow = stored[-1]
    assert (overflow["actor"], overflow["actor_kind"], overflow["resource"]) == (
        "audit:denials-overflow",
        "system",
        "rpc:*",
    )
    assert (overflow["after"]["count"], overflow["after"]["kinds_over"]) == (7, 3)


def test_a_refusal_of_nobody_proven_is_not_a_denial_to_record() -> None:
    assert denials.of(errors.PermissionDenied("this RPC declares no access rule"), rpc=RPC) is None


def test_a_concealed_refusal_is_recorded_under_the_owner_naming_the_callers_company() -> None:
    concealed = errors.Concealed("no such privacy request", resource="privacy_request:r-1", tenant="globex")
    with tenancy.bound_principal(Principal(subject="dpo-acme", tenant="acme", role="company_admin")):
        denial = denials.of(concealed, rpc="/teei.gateway.v1.GatewayService/GetPrivacyRequest")
    assert denial is not None
    assert (denial.actor, denial.tenant, denial.resource) == (
        Actor(ActorKind.TOKEN, "dpo-acme"),
        "globex",
        "privacy_request:r-1",
    )
    assert (denial.caller_tenant, denial.answered) == ("acme", "NOT_FOUND")
    assert denials.refused(concealed)
    assert not denials.refused(errors.NotFound("no such thing"))


async def test_a_failing_append_never_turns_the_refusal_into_an_error(tmp_path: Path) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path / "empty.db"))  # no audit table
    try:
        await _log(engine, Ticks()).record(_denied())
    finally:
        engine.dispose()
