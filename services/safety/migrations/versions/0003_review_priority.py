"""Review priority: self-harm reviews (3, urgent) and threats (2, high) are listed before routine ones (1)."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("safety_reviews", sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("1")))
    op.create_index(
        "ix_safety_reviews_company_status_priority",
        "safety_reviews",
        ["company_id", "status", "priority", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_safety_reviews_company_status_priority", "safety_reviews")
    with op.batch_alter_table("safety_reviews") as batch:
        batch.drop_column("priority")
