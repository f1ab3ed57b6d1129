"""An embedded PostgreSQL for the bench: one server, one database per service (each its own pool)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg

from services.cli.spec import Resource
from tests import postgres


@contextmanager
def embedded_server() -> Iterator[str]:
    """A superuser URL of a PostgreSQL started for the run and deleted afterwards."""
    with postgres.embedded_server(prefix="teei-bench-pg-") as url:
        yield url


def database_for(admin_url: str, name: str) -> str:
    """Creates database `name` (dropping an older one) and returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres.url_of(admin_url, name)


def on_postgres(resources: tuple[Resource, ...], admin_url: str) -> tuple[Resource, ...]:
    """The resources with every Python service given a database of its own by DATABASE_URL."""
    return tuple(
        replace(r, env={**r.env, "DATABASE_URL": database_for(admin_url, f"teei_{r.name}")})
        if r.kind in ("grpc",)
        else r
        for r in resources
    )
