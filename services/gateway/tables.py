"""The gateway's tables: signing keys (platform-wide), machine clients (per company), pending SSO logins,
data-subject requests with each service's part and the sections of their export bundle."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),
    sa.Column("algorithm", sa.String(10), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=False),
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("activated_at", UtcDateTime),
    sa.Column("retired_at", UtcDateTime),
    sa.CheckConstraint("state IN ('next', 'active', 'retired')", name="ck_signing_keys_state"),
    # At most one next and one active key, even when two rotations race.
    sa.Index(
        "uq_signing_keys_live_state",
        "state",
        unique=True,
        sqlite_where=sa.text("state != 'retired'"),
        postgresql_where=sa.text("state != 'retired'"),
    ),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False, index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    # The person the client was registered for, sealed with their key; `email_index` is its blind index.
    sa.Column("email", sa.Text),
    sa.Column("email_index", sa.String(64)),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # A subject's clients, found by the blind index of their e-mail (export and erasure) ...
    sa.Index("ix_oauth_clients_company_email_index", "company_id", "email_index"),
)
# ... or, on a client not sealed yet, by the plain e-mail, lower-cased: on PostgreSQL only (SQLite can neither
# reflect nor compare an index on an expression; it serves the development databases, small).
sa.Index(
    "ix_oauth_clients_company_lower_email", oauth_clients.c.company_id, sa.func.lower(oauth_clients.c.email)
).ddl_if(dialect="postgresql")

# Logins between SsoLogin and SsoCallback; platform-wide: the tenant is known only once the login completes.
sso_logins = sa.Table(
    "sso_logins",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(63), nullable=False),
    sa.Column("nonce", sa.String(128), nullable=False),
    sa.Column("code_verifier", sa.String(128), nullable=False),
    sa.Column("redirect_uri", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime),
)

# Data-subject requests; the subject's e-mail is sealed with the subject's key (services/gateway/sealing.py),
# looked up by its blind index, and blanked once an erasure of them completed (the index stays, as proof).
privacy_requests = sa.Table(
    "privacy_requests",
    metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("subject_profile_id", sa.String(64), nullable=False),
    sa.Column("subject_email", sa.Text, nullable=False),
    sa.Column("subject_email_index", sa.String(64)),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("own", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime),
    # When the worker may next drive the request; NULL once it settled.
    sa.Column("next_attempt_at", UtcDateTime, index=True),
    # The gateway process driving the request now, until when: replicas never drive one request at once.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UtcDateTime),
    sa.CheckConstraint("kind IN ('export', 'erasure')", name="ck_privacy_requests_kind"),
    sa.CheckConstraint(
        "status IN ('received', 'in_progress', 'completed', 'failed')", name="ck_privacy_requests_status"
    ),
    sa.Index("ix_privacy_requests_company_created", "company_id", "created_at"),
    sa.Index("ix_privacy_requests_company_email_index", "company_id", "subject_email_index"),
)

# One service's part of a request.
privacy_outcomes = sa.Table(
    "privacy_outcomes",
    metadata,
    sa.Column(
        "request_id",
        sa.String(36),
        sa.ForeignKey("privacy_requests.request_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("found", sa.Integer, nullable=False),
    sa.Column("exported", sa.Integer, nullable=False),
    sa.Column("erased", sa.Integer, nullable=False),
    sa.Column("retained", sa.Integer, nullable=False),
    sa.Column("retained_reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name="ck_privacy_outcomes_status"),
)

# One service's section of an export bundle (its records as canonical JSON, sealed with the subject's key)
# and the SHA-256 of the plain section.
privacy_sections = sa.Table(
    "privacy_sections",
    metadata,
    sa.Column(
        "request_id",
        sa.String(36),
        sa.ForeignKey("privacy_requests.request_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, lease_metadata)
