"""A merge is recorded under the subject of the caller's validated token, whatever headers the call carries."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.checkpoints import HmacKey
from services.kit.audit.tables import records
from services.kit.audit.verify import verify
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import tenant
from services.profile.tables import merges
from teei.profile.v1 import events_pb2, profile_pb2
from tests.integration.profile.support import Metadata, Stub, create

ADA = tenant("acme", subject="user:ada")
# Headers an edge or a caller might add to claim an identity; only the token may name the actor.
FORGED = (("x-teei-principal", "user:mallory"), ("x-user-id", "user:mallory"), ("x-tenant-id", "globex"))


async def _merge(stub: Stub, metadata: Metadata) -> None:
    keep, dup = await create(stub, "keep@example.org", ADA), await create(stub, "dup@example.org", ADA)
    request = profile_pb2.MergeProfilesRequest(
        profile_id=keep.profile_id, duplicate_profile_id=dup.profile_id, reason="same person"
    )
    await stub.MergeProfiles(request, metadata=metadata)


def _actors(engine: sa.Engine) -> tuple[list[str], list[str]]:
    """The actor of every audited merge and of every merge event."""
    with engine.connect() as connection:
        audited = [row.actor for row in connection.execute(sa.select(merges))]
    with db.UnitOfWork(engine).begin() as session:
        payloads = [events.payload_of(e) for e in events.pending(session) if e.type == "profile.profiles.merged"]
    emitted = [p.actor for p in payloads if isinstance(p, events_pb2.ProfilesMerged)]
    return audited, emitted


async def test_a_merge_records_the_token_subject_as_its_actor(profiles: Stub, engine: sa.Engine) -> None:
    await _merge(profiles, ADA)
    assert _actors(engine) == (["user:ada"], ["user:ada"])


async def test_forged_identity_headers_do_not_change_the_actor(profiles: Stub, engine: sa.Engine) -> None:
    await _merge(profiles, (*ADA, *FORGED))
    assert _actors(engine) == (["user:ada"], ["user:ada"])


def _audit_log(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(records).order_by(records.c.sequence)).all()
        assert verify(connection, HmacKey(b"-" * 32)).ok, "the chain holds (no checkpoint yet)"
    return [(row.action, row.actor, row.actor_kind, row.tenant) for row in rows]


async def test_the_audit_log_records_creations_and_the_merge_under_the_token_subject(
    profiles: Stub, engine: sa.Engine
) -> None:
    await _merge(profiles, (*ADA, *FORGED))
    created, merged = ("profile.created", "user:ada", "token", "acme"), ("profile.merged", "user:ada", "token", "acme")
    assert _audit_log(engine) == [created, created, merged]
    with engine.connect() as connection:
        diffs = " ".join(connection.execute(sa.select(records.c.diff)).scalars())
    assert "example.org" not in diffs
    assert '"role":"participant"' in diffs
