"""A sealed service database: migrated, its cipher attached, its online migration one batch a transaction,
and its service's hooks ordered so that the background sealing stops before the engine and the cipher go."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

import services.profile.bootstrap as profile_bootstrap
from services.kit.config import ServiceConfig
from services.kit.persistence import sealed
from services.kit.security import pii


def test_a_sealed_database_is_migrated_with_its_cipher_attached_and_seals_one_batch_a_transaction(
    tmp_path: Path,
) -> None:
    left = [3, 2, 0]
    seen: list[tuple[bool, pii.PiiCipher]] = []

    def step(session: orm.Session, cipher: pii.PiiCipher) -> int:
        seen.append((session.in_transaction(), cipher))
        session.execute(
            sa.text("INSERT INTO leases (name, holder, expires_at) VALUES (:n, 'h', '2026-01-01')"),
            {"n": f"batch-{len(seen)}"},
        )
        return left.pop(0)

    database = sealed.open_sealed(
        ServiceConfig(grpc_port=0, var_dir=tmp_path),
        name="profile",
        migrations=profile_bootstrap.MIGRATIONS,
        seal_step=step,
    )
    try:
        assert "profiles" in sa.inspect(database.engine).get_table_names()
        with database.engine.connect() as connection:
            assert pii.attached(connection) is database.cipher

        assert database.maintenance.run_once() == (5, 0)

        assert seen == [(True, database.cipher)] * 3
        with database.engine.connect() as connection:
            committed = connection.execute(sa.text("SELECT name FROM leases ORDER BY name")).scalars().all()
        assert committed == ["batch-1", "batch-2", "batch-3"]
    finally:
        database.engine.dispose()
        database.cipher.close()


def test_its_service_starts_the_sealing_first_and_stops_it_after_its_own_hooks_before_the_engine_and_the_cipher(
    tmp_path: Path,
) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    database = sealed.open_sealed(
        config, name="profile", migrations=profile_bootstrap.MIGRATIONS, seal_step=lambda session, cipher: 0
    )

    def started() -> None: ...

    def stopped() -> None: ...

    try:
        service = database.service([], on_start=[started], on_stop=[stopped])

        assert (service.name, service.config, service.engine) == ("profile", config, database.engine)
        assert service.on_start == [database.maintenance.start, started]
        # Service.on_stop runs its hooks last first.
        assert list(reversed(service.on_stop)) == [
            stopped,
            database.maintenance.stop,
            database.engine.dispose,
            database.cipher.close,
        ]
    finally:
        database.engine.dispose()
        database.cipher.close()
