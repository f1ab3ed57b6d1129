"""Personal fields sealed at rest (expand step): a learner's e-mail, provider id and names, and a
credential's url and verification code become sealed text, wider than the plain values (a progress
record's metadata is a Text already); `external_index` holds the provider id's blind index, and look-ups
by profile id or blind index read an index each.

Old rows keep their plain values and their `email:` / `external:` keys: the running service seals them
and rewrites their keys in batches (services/upskilling/sealing.py) and reads both forms meanwhile. The
downgrade refuses while any value is sealed or any key is in its sealed form — unseal first
(`teei pii unseal --service upskilling`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

LEARNER = {"email": 255, "external_id": 255, "given_name": 200, "family_name": 200}
WIDENED = {
    "upskilling_progress": LEARNER,
    "upskilling_credentials": {**LEARNER, "url": 2000, "verification_code": 255},
}
SEALED = {
    "upskilling_progress": [*LEARNER, "metadata_json"],
    "upskilling_credentials": [*LEARNER, "url", "verification_code"],
}
# Keys naming the learner by profile id or blind index (written by sealing, undone by unsealing).
KEYED = {
    "upskilling_progress": "learner_key LIKE 'pid:%' OR learner_key LIKE 'xid:%'",
    "upskilling_credentials": "credential_key LIKE 'course:%|pid:%' OR credential_key LIKE 'course:%|xid:%'",
}
INDEXES = {
    "upskilling_progress": ("ix_upskilling_progress_company_profile", "ix_upskilling_progress_company_external"),
    "upskilling_credentials": (
        "ix_upskilling_credentials_company_profile",
        "ix_upskilling_credentials_company_external",
    ),
}


def upgrade() -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column, length in columns.items():
                batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(length), existing_nullable=False)
            batch.add_column(sa.Column("external_index", sa.String(64), nullable=False, server_default=""))
        by_profile, by_external = INDEXES[table]
        op.create_index(by_profile, table, ["company_id", "profile_id"])
        op.create_index(by_external, table, ["company_id", "external_index"])


def downgrade() -> None:
    sealed = sum(_sealed_rows(table, columns) for table, columns in SEALED.items())
    if sealed:
        raise RuntimeError(f"{sealed} upskilling rows are sealed: run `teei pii unseal --service upskilling` first")
    for table, columns in WIDENED.items():
        for name in INDEXES[table]:
            op.drop_index(name, table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("external_index")
            for column, length in columns.items():
                batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text(), existing_nullable=False)


def _sealed_rows(table: str, columns: list[str]) -> int:
    """Rows of `table` holding a sealed value (`pii1.` followed by a key id) or a key in its sealed form."""
    where = " OR ".join([*(f"{c} LIKE 'pii1.%'" for c in columns), KEYED[table]])
    return int(op.get_bind().execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar() or 0)  # noqa: S608 - names are this revision's constants
