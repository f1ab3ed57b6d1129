"""Alembic environment of the profile service."""

from services.profile.repository import metadata
from services.kit.persistence.db import run_alembic_env

run_alembic_env(service="profile", metadata=metadata)
