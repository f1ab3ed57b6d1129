"""Alembic environment of the kintell service."""

from services.kintell.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="kintell", metadata=SCHEMA)
