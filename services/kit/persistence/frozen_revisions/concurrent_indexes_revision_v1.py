"""A revision that only builds indexes (concurrent_indexes_v1): its upgrade and downgrade, for the indexes given."""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

from services.kit.persistence.frozen_revisions import concurrent_indexes_v1


def revision(
    indexes: concurrent_indexes_v1.Indexes, *, postgresql_only: frozenset[str] = frozenset()
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The upgrade, building `indexes` (those in `postgresql_only` on PostgreSQL alone), and the downgrade."""

    def upgrade() -> None:
        concurrent_indexes_v1.create(op, indexes, postgresql_only=postgresql_only)

    def downgrade() -> None:
        concurrent_indexes_v1.drop(op, indexes)

    return upgrade, downgrade
