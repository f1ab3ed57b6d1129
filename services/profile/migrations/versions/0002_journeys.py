"""Identities, journeys, applied facts and the merge audit of profiles."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_PROFILE_FK = "profiles.profile_id"


def _owner() -> list[sa.Column[str]]:
    return [
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("profile_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), primary_key=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(36), nullable=True))
    op.create_table(
        "profile_external_ids",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("provider", sa.String(20), primary_key=True),
        sa.Column("external_id", sa.String(255), primary_key=True),
        sa.Column("profile_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_profile_external_ids_profile_id", "profile_external_ids", ["profile_id"])
    op.create_table(
        "profile_enrolments",
        *_owner(),
        sa.Column("programme", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "profile_flags",
        *_owner(),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("value", sa.Boolean, nullable=False),
    )
    op.create_table(
        "profile_counters",
        *_owner(),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "profile_milestones",
        *_owner(),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("repeat_key", sa.String(20), primary_key=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_table(
        "profile_facts",
        *_owner(),
        sa.Column("source", sa.String(60), primary_key=True),
        sa.Column("record_id", sa.String(300), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profile_merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("survivor_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False),
        sa.Column("duplicate_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_profile_merges_company_id", "profile_merges", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_profile_merges_company_id", "profile_merges")
    op.drop_table("profile_merges")
    for table in ("profile_facts", "profile_milestones", "profile_counters", "profile_flags", "profile_enrolments"):
        op.drop_table(table)
    op.drop_index("ix_profile_external_ids_profile_id", "profile_external_ids")
    op.drop_table("profile_external_ids")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("merged_into")
