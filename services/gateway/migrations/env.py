"""Alembic environment of the gateway service."""

from services.gateway.tables import metadata
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="gateway", metadata=metadata)
