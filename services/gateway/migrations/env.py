"""Alembic environment of the gateway service."""

from services.gateway.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="gateway", metadata=SCHEMA)
