"""Alembic environment of the profile service."""

from services.kit.persistence.db import run_alembic_env
from services.profile.tables import SCHEMA

run_alembic_env(service="profile", metadata=SCHEMA)
