"""The outbox's ix_outbox_pending (published_at, created_at, event_id): the relay's pending read becomes a
search with no sort, and it serves the backlog gauge and retention's range on published_at too, so it
replaces ix_outbox_created_at and ix_outbox_published_at. PostgreSQL builds and drops the indexes
CONCURRENTLY, outside the migration's transaction, so writers to a live outbox are never blocked.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import contextlib
from collections.abc import Iterator

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PENDING = {"ix_outbox_pending": ["published_at", "created_at", "event_id"]}
SINGLE = {"ix_outbox_created_at": ["created_at"], "ix_outbox_published_at": ["published_at"]}


def upgrade() -> None:
    _replace(SINGLE, PENDING)


def downgrade() -> None:
    _replace(PENDING, SINGLE)


def _replace(old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
    with _outside_transaction():
        for name, columns in new.items():
            # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it so a rerun succeeds.
            op.drop_index(name, "outbox", if_exists=True, postgresql_concurrently=True)
            op.create_index(name, "outbox", columns, postgresql_concurrently=True)
        for name in old:
            op.drop_index(name, "outbox", if_exists=True, postgresql_concurrently=True)


@contextlib.contextmanager
def _outside_transaction() -> Iterator[None]:
    # CONCURRENTLY cannot run in a transaction; SQLite has no such option and takes the plain DDL in it.
    if op.get_bind().dialect.name != "postgresql":
        yield
        return
    with op.get_context().autocommit_block():
        yield
