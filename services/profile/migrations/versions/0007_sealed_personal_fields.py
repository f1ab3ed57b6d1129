"""Personal fields sealed at rest (expand step): e-mails and names become sealed text (wider than the
plain values), profiles gain `email_index` (the keyed blind index look-ups and uniqueness compare) and
external identities `external_ref` (the sealed external id; `external_id` then holds its blind index).

The columns are nullable and old rows keep their plain values: the service seals them in batches while
it runs (services/profile/sealing.py) and reads both forms meanwhile. The downgrade refuses while any
row is sealed — unseal first (`teei pii unseal --service profile`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

SEALED = {"email": 254, "given_name": 200, "family_name": 200}


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        for column, length in SEALED.items():
            batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(length), existing_nullable=False)
        batch.add_column(sa.Column("email_index", sa.String(64), nullable=True))
    op.create_index("uq_profiles_company_email_index", "profiles", ["company_id", "email_index"], unique=True)
    op.add_column("profile_external_ids", sa.Column("external_ref", sa.Text(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM profiles WHERE email LIKE 'pii1.%' OR given_name LIKE 'pii1.%'"
            " OR family_name LIKE 'pii1.%')"
            " + (SELECT count(*) FROM profile_external_ids WHERE external_ref LIKE 'pii1.%')"
        )
    ).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} profile rows are sealed: run `teei pii unseal --service profile` first")
    op.drop_column("profile_external_ids", "external_ref")
    op.drop_index("uq_profiles_company_email_index", "profiles")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("email_index")
        for column, length in SEALED.items():
            batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text(), existing_nullable=False)
