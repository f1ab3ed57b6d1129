"""Create the profiles table."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "email", name="uq_profiles_company_email"),
    )


def downgrade() -> None:
    op.drop_table("profiles")
