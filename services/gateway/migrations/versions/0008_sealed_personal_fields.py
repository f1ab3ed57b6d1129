"""Personal fields sealed at rest (expand step): a data-subject request's `subject_email` becomes sealed
text (wider than the plain e-mail) and gains `subject_email_index`, the keyed blind index look-ups by
e-mail compare; an export section's `body` (binary already) holds the sealed section from now on.

Old rows keep their plain values: the running gateway seals them in batches
(services/gateway/sealing.py) and reads both forms meanwhile. The downgrade refuses while any value is
sealed — unseal first (`teei pii unseal --service gateway`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

INDEX = "ix_privacy_requests_company_email_index"


def upgrade() -> None:
    with op.batch_alter_table("privacy_requests") as batch:
        batch.alter_column("subject_email", type_=sa.Text(), existing_type=sa.String(254), existing_nullable=False)
        batch.add_column(sa.Column("subject_email_index", sa.String(64), nullable=True))
    op.create_index(INDEX, "privacy_requests", ["company_id", "subject_email_index"])


def downgrade() -> None:
    sealed = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT (SELECT count(*) FROM privacy_requests WHERE subject_email LIKE 'pii1.%')"
                " + (SELECT count(*) FROM privacy_sections WHERE body LIKE 'pii1.%')"
            )
        )
        .scalar()
    )
    if sealed:
        raise RuntimeError(f"{sealed} gateway rows are sealed: run `teei pii unseal --service gateway` first")
    op.drop_index(INDEX, "privacy_requests")
    with op.batch_alter_table("privacy_requests") as batch:
        batch.drop_column("subject_email_index")
        batch.alter_column("subject_email", type_=sa.String(254), existing_type=sa.Text(), existing_nullable=False)
