"""The outbox's ix_outbox_pending (published_at, created_at, event_id) in place of ix_outbox_created_at and
ix_outbox_published_at, built and dropped CONCURRENTLY on PostgreSQL."""

from __future__ import annotations

from typing import Any

from services.kit.persistence.frozen_revisions.concurrent_indexes_v1 import outside_transaction

PENDING = {"ix_outbox_pending": ["published_at", "created_at", "event_id"]}
SINGLE = {"ix_outbox_created_at": ["created_at"], "ix_outbox_published_at": ["published_at"]}


def upgrade(op: Any) -> None:
    _replace(op, SINGLE, PENDING)


def downgrade(op: Any) -> None:
    _replace(op, PENDING, SINGLE)


def _replace(op: Any, old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
    with outside_transaction(op):
        for name, columns in new.items():
            # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it so a rerun succeeds.
            op.drop_index(name, "outbox", if_exists=True, postgresql_concurrently=True)
            op.create_index(name, "outbox", columns, postgresql_concurrently=True)
        for name in old:
            op.drop_index(name, "outbox", if_exists=True, postgresql_concurrently=True)
