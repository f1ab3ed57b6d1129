"""Personal fields sealed at rest (expand step): each session person's e-mail, Kintell id and names become
sealed text, wider than the plain values; the free text (feedback, goals, metadata) is a Text already.

Old rows keep their plain values: the running service seals them in batches
(services/kintell/sealing.py) and reads both forms meanwhile. The downgrade refuses while any value is
sealed — unseal first (`teei pii unseal --service kintell`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import sealed_values_v1

revision = "0007"
down_revision = "0006"

ROLES = ("participant", "volunteer")
WIDENED = {"email": 255, "external_id": 255, "given_name": 200, "family_name": 200}
SEALED = {
    "kintell_sessions": [f"{r}_{c}" for r in ROLES for c in WIDENED]
    + ["feedback_text", "goals_discussed", "metadata_json"],
    "kintell_ratings": ["feedback_text"],
}


def upgrade() -> None:
    with op.batch_alter_table("kintell_sessions") as batch:
        for role in ROLES:
            for column, length in WIDENED.items():
                batch.alter_column(
                    f"{role}_{column}", type_=sa.Text(), existing_type=sa.String(length), existing_nullable=False
                )


def downgrade() -> None:
    sealed_values_v1.refuse_while_sealed(op, "kintell", SEALED)
    with op.batch_alter_table("kintell_sessions") as batch:
        for role in ROLES:
            for column, length in WIDENED.items():
                batch.alter_column(
                    f"{role}_{column}", type_=sa.String(length), existing_type=sa.Text(), existing_nullable=False
                )
