"""Create the table of pending SSO logins (hashed state, nonce, PKCE verifier, expiry, use)."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "sso_logins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(63), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sso_logins_expires_at", "sso_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sso_logins_expires_at", table_name="sso_logins")
    op.drop_table("sso_logins")
