"""SQLAlchemy Core tables of the profile service, the schema the migrations create; timestamps are UtcDateTime."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()
_PROFILE_FK = "profiles.profile_id"


def _owner() -> list[sa.Column[str]]:
    return [
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("profile_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), primary_key=True),
    ]


profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("profile_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    # Sealed (services/kit/security/pii): the subject's data key, the column and profile id bound to them.
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("given_name", sa.Text, nullable=False),
    sa.Column("family_name", sa.Text, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("merged_into", sa.String(36), nullable=True),
    # The keyed blind index of the e-mail: what look-ups and uniqueness compare. NULL only on a row written
    # before sealing, whose plain e-mail the old constraint still covers until the online migration seals it.
    sa.Column("email_index", sa.String(64), nullable=True),
    sa.UniqueConstraint("company_id", "email", name="uq_profiles_company_email"),
    sa.Index("uq_profiles_company_email_index", "company_id", "email_index", unique=True),
    # A company's profiles in pages, in profile id order.
    sa.Index("ix_profiles_company_profile", "company_id", "profile_id"),
)

external_ids = sa.Table(
    "profile_external_ids",
    metadata,
    sa.Column("company_id", sa.String(63), primary_key=True),
    sa.Column("provider", sa.String(20), primary_key=True),
    # The blind index of the source's id for this person (the plain id on a row not sealed yet) ...
    sa.Column("external_id", sa.String(255), primary_key=True),
    sa.Column("profile_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # ... and the id itself, sealed with the owner's data key (NULL on a row not sealed yet).
    sa.Column("external_ref", sa.Text, nullable=True),
)

enrolments = sa.Table(
    "profile_enrolments",
    metadata,
    *_owner(),
    sa.Column("programme", sa.String(20), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=True),
)

flags = sa.Table(
    "profile_flags",
    metadata,
    *_owner(),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("value", sa.Boolean, nullable=False),
)

counters = sa.Table(
    "profile_counters",
    metadata,
    *_owner(),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

milestones = sa.Table(
    "profile_milestones",
    metadata,
    *_owner(),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("repeat_key", sa.String(20), primary_key=True),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
)

# Source facts already applied to a profile: the same real-world record never counts twice.
facts = sa.Table(
    "profile_facts",
    metadata,
    *_owner(),
    sa.Column("source", sa.String(60), primary_key=True),
    sa.Column("record_id", sa.String(300), primary_key=True),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

merges = sa.Table(
    "profile_merges",
    metadata,
    sa.Column("merge_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False, index=True),
    sa.Column("survivor_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False),
    sa.Column("duplicate_id", sa.String(36), sa.ForeignKey(_PROFILE_FK), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("merged_at", UtcDateTime, nullable=False),
)

JOURNEY_TABLES = (enrolments, flags, counters, milestones)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, lease_metadata)
