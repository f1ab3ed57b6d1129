"""The write side: the `SafetyRepository` port, its SQLAlchemy adapter, and the unit of work (one company each)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.audit.trail import AuditTrail, SqlAuditTrail
from services.kit.messaging.events import Envelope, claim_once, record
from services.kit.persistence.db import TenantUnitOfWork, UnitOfWork
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.safety import events, rows, sealing
from services.safety.domain.events import SafetyEvent
from services.safety.domain.model import Flag, Review, TextSource
from services.safety.queries import SafetyReader, SqlSafetyReader
from services.safety.tables import flags, review_actions, reviews

# Inbox key space recording that a source text's verdict was announced (no subscription has this name).
ANNOUNCED = "safety-text-screened"
_SOURCE_KEYS = uuid.UUID("9b0e4c1a-7d3f-5e2b-8c6a-1f4d2e3b5a70")


class DuplicateSource(Exception):
    """The store already holds a flag for this (company, source type, source id)."""


class SafetyRepository(SafetyReader, Protocol):
    """Flags and reviews of one company inside one transaction; events go to its outbox."""

    def add_flag(self, flag: Flag) -> None: ...

    def get_flag_by_source(self, source_text_type: TextSourceType, source_text_id: str) -> Flag | None: ...

    def add_review(self, review: Review) -> None: ...

    def save_decision(self, review: Review) -> bool: ...

    def first_announcement(self, source: TextSource) -> bool: ...

    def emit(self, event: SafetyEvent) -> None: ...

    @property
    def audit(self) -> AuditTrail: ...


SafetyUnitOfWork = TenantUnitOfWork[SafetyRepository]


class SqlSafetyRepository(SqlSafetyReader):
    """Flags and reviews of one company in a SQL database; `causation` is the event being handled, if any."""

    def __init__(self, session: orm.Session, *, company_id: str, causation: Envelope | None = None) -> None:
        super().__init__(session, company_id=company_id)
        self._causation = causation
        self._audit = SqlAuditTrail(session)

    @property
    def audit(self) -> AuditTrail:
        """The audit log, in this repository's transaction."""
        return self._audit

    def add_flag(self, flag: Flag) -> None:
        """Stores a new flag, its texts sealed with the author's key; raises DuplicateSource when its source
        record was flagged already."""
        row = sealing.FLAGS.seal(self._session, pii.attached(self._session), rows.flag_row(flag))
        try:
            with self._session.begin_nested():
                self._session.execute(flags.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise DuplicateSource(flag.source.source_text_id) from exc

    def get_flag_by_source(self, source_text_type: TextSourceType, source_text_id: str) -> Flag | None:
        """The flag of one source record, if it was flagged."""
        c = flags.c
        query = self._flags().where(c.source_text_type == source_text_type.value, c.source_text_id == source_text_id)
        row = self._session.execute(query).mappings().first()
        return None if row is None else rows.to_flag(sealing.opened_flag(pii.attached(self._session), row))

    def add_review(self, review: Review) -> None:
        """Queues a review."""
        self._session.execute(reviews.insert().values(**rows.review_row(review)))

    def save_decision(self, review: Review) -> bool:
        """Stores the review's latest decision unless another one was stored since it was read; its notes
        sealed with the flagged person's key (bound to the action's id, so stored once the row has one)."""
        c = reviews.c
        stored_version = review.version - 1
        update = (
            reviews.update()
            .where(c.company_id == self._company_id, c.review_id == review.review_id, c.version == stored_version)
            .values(status=review.status.value, version=review.version)
        )
        if self._session.connection().execute(update).rowcount != 1:
            return False
        if review.latest is not None:
            self._add_action(review, rows.action_row(review.review_id, review.latest))
        return True

    def _add_action(self, review: Review, row: rows.ActionRow) -> None:
        insert = review_actions.insert().values(**{**row, "notes": ""}).returning(review_actions.c.action_id)
        action_id = self._session.execute(insert).scalar_one()
        if not row["notes"]:
            return
        author = flags.c.profile_id
        profile_id = self._session.execute(sa.select(author).where(flags.c.flag_id == review.flag_id)).scalar_one()
        sealed = sealing.sealed_action(
            self._session,
            pii.attached(self._session),
            {**row, "action_id": action_id},
            company_id=self._company_id,
            profile_id=profile_id,
        )
        update = review_actions.update().where(review_actions.c.action_id == action_id)
        self._session.execute(update.values(notes=sealed["notes"]))

    def first_announcement(self, source: TextSource) -> bool:
        """True once per source record: a clean text leaves no flag behind, so the inbox remembers that its
        verdict was announced and a redelivered or repeated source text gets no second one."""
        key = uuid.uuid5(
            _SOURCE_KEYS, f"{self._company_id}\x1f{source.source_text_type.value}\x1f{source.source_text_id}"
        )
        return claim_once(self._session, consumer=ANNOUNCED, event_id=str(key))

    def emit(self, event: SafetyEvent) -> None:
        """Records the event's envelope in the outbox, committed with the state change."""
        record(self._session, events.envelope(event, causation=self._causation))


class SqlSafetyUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SafetyRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlSafetyRepository(session, company_id=company_id)

    @contextmanager
    def read(self, *, company_id: str) -> Iterator[SafetyRepository]:
        """One read-only transaction: no write lock, writes refused."""
        with self._uow.read() as session:
            yield SqlSafetyRepository(session, company_id=company_id)
