"""The idempotency_keys table: Idempotency-Key claims and stored responses of mutating RPCs."""

from services.kit.persistence.frozen_revisions.idempotency_keys_revision_v1 import downgrade, upgrade  # noqa: F401 (run by Alembic)

revision = "0002"
down_revision = "0001"
