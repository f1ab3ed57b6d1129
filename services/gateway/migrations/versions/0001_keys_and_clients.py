"""Create the signing-key ring and the machine-client tables."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(128), primary_key=True),
        sa.Column("algorithm", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('next', 'active', 'retired')", name="ck_signing_keys_state"),
    )
    # At most one next and one active key, even when two rotations race.
    op.create_index(
        "uq_signing_keys_live_state",
        "signing_keys",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state != 'retired'"),
        postgresql_where=sa.text("state != 'retired'"),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(128), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oauth_clients_company_id", "oauth_clients", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_clients_company_id", table_name="oauth_clients")
    op.drop_table("oauth_clients")
    op.drop_index("uq_signing_keys_live_state", table_name="signing_keys")
    op.drop_table("signing_keys")
