"""A merge is recorded under the subject of the caller's validated token, whatever headers the call carries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

import pytest
import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import tenant
from services.profile import bootstrap
from services.profile.tables import merges
from teei.profile.v1 import events_pb2, profile_pb2, profile_pb2_grpc

Stub: TypeAlias = "profile_pb2_grpc.ProfileServiceAsyncStub"
ADA = tenant("acme", subject="user:ada")
# Headers an edge or a caller might add to claim an identity; only the token may name the actor.
FORGED = (("x-teei-principal", "user:mallory"), ("x-user-id", "user:mallory"), ("x-tenant-id", "globex"))


@pytest.fixture
def engine(service_config: ServiceConfig, profiles: Stub) -> Iterator[sa.Engine]:
    """The running service's own database."""
    engine = db.create_engine(bootstrap.database_url(service_config))
    yield engine
    engine.dispose()


async def _merge(stub: Stub, survivor: str, duplicate: str, metadata: tuple[tuple[str, str], ...]) -> None:
    ids = []
    for email in (survivor, duplicate):
        request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email))
        ids.append((await stub.CreateProfile(request, metadata=ADA)).profile.profile_id)
    merge = profile_pb2.MergeProfilesRequest(profile_id=ids[0], duplicate_profile_id=ids[1], reason="same person")
    await stub.MergeProfiles(merge, metadata=metadata)


def _actors(engine: sa.Engine) -> tuple[list[str], list[str]]:
    """The actor of every audited merge and of every merge event, oldest first."""
    with engine.connect() as connection:
        audited = [row.actor for row in connection.execute(sa.select(merges).order_by(merges.c.merged_at))]
    with db.UnitOfWork(engine).begin() as session:
        payloads = [events.payload_of(e) for e in events.pending(session) if e.type == "profile.profiles.merged"]
    emitted = [p.actor for p in payloads if isinstance(p, events_pb2.ProfilesMerged)]
    return audited, emitted


async def test_a_merge_records_the_token_subject_as_its_actor(profiles: Stub, engine: sa.Engine) -> None:
    await _merge(profiles, "keep@example.org", "dup@example.org", ADA)
    assert _actors(engine) == (["user:ada"], ["user:ada"])


async def test_forged_identity_headers_do_not_change_the_actor(profiles: Stub, engine: sa.Engine) -> None:
    await _merge(profiles, "keep@example.org", "dup@example.org", (*ADA, *FORGED))
    assert _actors(engine) == (["user:ada"], ["user:ada"])
