"""Both database backends of the persistence kit, with the profile service as the example: its
migrations upgrade and downgrade on SQLite and PostgreSQL, its slice works on both, and a service
serves from PostgreSQL when its database URL says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.testing import running, tenant
from services.profile import bootstrap, handlers, queries, sealing
from services.profile.domain.commands import CreateProfile, GetProfile
from services.profile.domain.model import PersonRole, ProfileEmailTaken
from services.profile.repository import SqlProfileUnitOfWork
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.unit.profile.support import rich_profile


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert {"profiles", "alembic_version_profile"} <= _tables(url)
    engine, cipher = db.create_engine(url), pii.local(var_dir, "profile")
    pii.attach(engine, cipher)
    try:
        uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
        command = CreateProfile("acme", "pg@example.org", "P", "G", PersonRole.PARTICIPANT)
        created = handlers.create_profile(command, uow=uow)
        assert queries.get_profile(GetProfile("acme", created.profile_id), uow=uow) == created
        with pytest.raises(ProfileEmailTaken):
            handlers.create_profile(command, uow=uow)
        with pytest.raises(Exception, match="unseal"):  # sealed rows hold the downgrade back ...
            db.downgrade(url, bootstrap.MIGRATIONS)
        with db.UnitOfWork(engine).begin() as session:  # ... until they are written back in plain text
            assert sealing.unseal_batch(session, cipher) == 1
    finally:
        engine.dispose()
        cipher.close()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert "profiles" not in _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert "profiles" in _tables(url)


def test_a_profile_reads_back_whole_from_postgresql_in_its_folded_read(postgres_url: str, tmp_path: Path) -> None:
    """The identities and journey come back from one UNION ALL of typed columns on PostgreSQL too."""
    db.upgrade(postgres_url, bootstrap.MIGRATIONS)
    engine, cipher = db.create_engine(postgres_url), pii.local(tmp_path, "profile")
    pii.attach(engine, cipher)
    try:
        uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
        stored = rich_profile(uow)
        assert queries.get_profile(GetProfile("acme", stored.profile_id), uow=uow) == stored
        assert stored.journey.counters["sessions"] == 2**40
        assert stored.journey.flags == {"job_ready": True, "opted_out": False}
    finally:
        engine.dispose()
        cipher.close()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "profile.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)


async def test_profile_service_serves_from_postgresql_when_database_url_says_so(
    postgres_url: str, tmp_path: Path
) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path, database_url=postgres_url)
    async with running(bootstrap.build(config)) as (_, channel):
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="pg-served@example.org"))
        created = (await stub.CreateProfile(request, metadata=tenant("acme"))).profile
        got = await stub.GetProfile(
            profile_pb2.GetProfileRequest(profile_id=created.profile_id), metadata=tenant("acme")
        )
    assert got.profile == created
    assert not (tmp_path / "profile.db").exists()
