"""A sealed service database: migrated, its cipher attached, its online migration one batch a transaction,
and its stop hooks ordered so that the background sealing stops before the engine and the cipher go."""

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


def test_the_stop_hooks_run_last_first_stop_the_sealing_before_the_engine_and_the_cipher(tmp_path: Path) -> None:
    database = sealed.open_sealed(
        ServiceConfig(grpc_port=0, var_dir=tmp_path),
        name="profile",
        migrations=profile_bootstrap.MIGRATIONS,
        seal_step=lambda session, cipher: 0,
    )
    try:
        hooks = list(reversed(database.on_stop))  # as Service.on_stop runs them
        assert hooks == [database.maintenance.stop, database.engine.dispose, database.cipher.close]
    finally:
        database.engine.dispose()
        database.cipher.close()
