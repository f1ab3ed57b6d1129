"""Alembic environment of the upskilling service."""

from services.upskilling.tables import SCHEMA
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="upskilling", metadata=SCHEMA)
