"""A machine client's e-mail (the person it was registered for) sealed at rest (expand step): `oauth_clients.email`
becomes sealed text and gains `email_index`, the keyed blind index an export or erasure of the person compares.

Old rows keep their plain values: the running gateway seals them in batches (services/gateway/sealing.py)
and reads both forms meanwhile. The downgrade refuses while any e-mail is sealed — unseal first
(`teei pii unseal --service gateway`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.alter_column("email", type_=sa.Text(), existing_type=sa.String(254), existing_nullable=True)
        batch.add_column(sa.Column("email_index", sa.String(64), nullable=True))


def downgrade() -> None:
    sealed = op.get_bind().execute(sa.text("SELECT count(*) FROM oauth_clients WHERE email LIKE 'pii1.%'")).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} gateway clients are sealed: run `teei pii unseal --service gateway` first")
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("email_index")
        batch.alter_column("email", type_=sa.String(254), existing_type=sa.Text(), existing_nullable=True)
