"""Alembic environment of the buddy service."""

from services.buddy.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="buddy", metadata=SCHEMA)
