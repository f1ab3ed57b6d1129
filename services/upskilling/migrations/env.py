"""Alembic environment of the upskilling service."""

from services.upskilling.tables import metadata
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="upskilling", metadata=metadata)
