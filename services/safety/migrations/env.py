"""Alembic environment of the safety service."""

from services.safety.tables import metadata
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="safety", metadata=metadata)
