"""The leases table: of the service's worker processes, only the holder of a lease runs the outbox relay or the
retention task (services/kit/persistence/leases.py). A row per lease name, its holder and when it expires."""

from services.kit.persistence.frozen_revisions.leases_revision_v1 import downgrade, upgrade  # noqa: F401 (run by Alembic)

revision = "0010"
down_revision = "0009"
