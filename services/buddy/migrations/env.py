"""Alembic environment of the buddy service."""

from services.buddy.tables import metadata
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="buddy", metadata=metadata)
