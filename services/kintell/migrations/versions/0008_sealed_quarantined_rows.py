"""Quarantined CSV rows sealed at rest (expand step; sealed_quarantined_rows_revision_v1 says how). Unseal
before a downgrade: `teei pii unseal --service kintell`."""

from services.kit.persistence.frozen_revisions import sealed_quarantined_rows_revision_v1

revision = "0008"
down_revision = "0007"

upgrade, downgrade = sealed_quarantined_rows_revision_v1.revision("kintell")
