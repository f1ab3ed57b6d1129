"""A subject's machine clients (export and erasure of a data-subject request) are found through indexes,
not by reading every client of the company: the look-up matches the blind index of the e-mail, or the
lower-cased plain e-mail of a client not sealed yet, and each side of that OR needs its own index,
(company_id, email_index) and (company_id, lower(email)). The second is built on PostgreSQL only: SQLite
can neither reflect nor compare an index on an expression, and serves the development databases, small.
PostgreSQL builds and drops them CONCURRENTLY, outside the migration's transaction."""

import sqlalchemy as sa

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1

revision = "0010"
down_revision = "0009"

# name: (table, columns)
INDEXES: dict[str, tuple[str, list[str | sa.TextClause]]] = {
    "ix_oauth_clients_company_email_index": ("oauth_clients", ["company_id", "email_index"]),
    "ix_oauth_clients_company_lower_email": ("oauth_clients", ["company_id", sa.text("lower(email)")]),
}
POSTGRESQL_ONLY = frozenset({"ix_oauth_clients_company_lower_email"})

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES, postgresql_only=POSTGRESQL_ONLY)
