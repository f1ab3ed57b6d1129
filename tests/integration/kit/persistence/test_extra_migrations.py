"""Revisions beside a service's own (TEEI_EXTRA_MIGRATIONS/<service>/): applied after the service's head,
reverted by the same runner, ignored when the service has no folder there."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from services.kit.config import ServiceConfig, load
from services.kit.persistence import db
from services.profile.bootstrap import MIGRATIONS

EXPAND = Path(__file__).resolve().parents[3] / "e2e" / "migrations" / "profile" / "9001_rolling_expand.py"


def _version(url: str) -> str:
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SELECT version_num FROM alembic_version_profile").scalar_one())
    finally:
        engine.dispose()


def _columns(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns("profiles")}
    finally:
        engine.dispose()


def test_a_revision_beside_the_services_own_is_applied_after_its_head_and_reverted(tmp_path: Path) -> None:
    root = tmp_path / "extra 100%"  # a '%' in the path is not taken for configparser interpolation
    (root / "profile").mkdir(parents=True)
    shutil.copy(EXPAND, root / "profile")
    url = db.sqlite_url(tmp_path / "profile.db")
    db.upgrade(url, MIGRATIONS)
    head = _version(url)
    extra = db.extra_versions(root, "profile")
    assert extra == root / "profile"
    db.upgrade(url, MIGRATIONS, extra_versions=extra)
    assert _version(url) == "9001"
    assert "locale" in _columns(url)
    db.downgrade(url, MIGRATIONS, "-1", extra_versions=extra)
    assert _version(url) == head
    assert "locale" not in _columns(url)


def test_a_service_without_a_folder_there_runs_only_its_own_revisions(tmp_path: Path) -> None:
    assert db.extra_versions(None, "profile") is None
    assert db.extra_versions(tmp_path, "profile") is None  # the folder holds none for this service


def test_the_folder_is_read_from_teei_extra_migrations(tmp_path: Path) -> None:
    config = load(ServiceConfig, {"TEEI_GRPC_PORT": "50052", "TEEI_EXTRA_MIGRATIONS": str(tmp_path)})
    assert config.extra_migrations == tmp_path
    assert load(ServiceConfig, {"TEEI_GRPC_PORT": "50052"}).extra_migrations is None
