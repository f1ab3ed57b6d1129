"""Alembic environment of the safety service."""

from services.safety.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="safety", metadata=SCHEMA)
