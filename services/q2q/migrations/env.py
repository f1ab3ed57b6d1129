"""Alembic environment of the q2q service."""

from services.q2q.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="q2q", metadata=SCHEMA)
