"""Q2Q persistence: the store port and its SQLAlchemy adapter (every query scoped to one company)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.q2q import tables as t
from services.q2q import wire
from services.q2q.domain.classifier import Evidence
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    ScoreFilter,
    ScoreRecord,
    ScoresComputed,
    SourceRef,
    StoredClassification,
    evidence_hash,
)
from services.q2q.domain.taxonomy import Label

EVENT_SOURCE = "teei/q2q"


class DuplicateClassification(Exception):
    """Another transaction stored a classification of the same source first."""


class Q2qStore(Protocol):
    """Q2Q records of one company inside one transaction."""

    def get_classification(self, source: SourceRef) -> StoredClassification | None: ...

    def add_classification(self, stored: StoredClassification) -> None: ...

    def add_score(self, record: ScoreRecord) -> None: ...

    def find_score(self, record: ScoreRecord) -> ScoreRecord | None: ...

    def list_scores(
        self, where: ScoreFilter, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[ScoreRecord]: ...

    def get_pending(self, source: SourceRef) -> PendingText | None: ...

    def put_pending(self, pending: PendingText) -> None: ...

    def emit(self, event: ScoresComputed) -> None: ...


class Q2qUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> AbstractContextManager[Q2qStore]: ...


class SqlQ2qStore:
    """Q2Q records of one company in a SQL database; `causation` is the event being handled, if any."""

    def __init__(self, session: orm.Session, *, company_id: str, causation: events.Envelope | None = None) -> None:
        self._session = session
        self._company_id = company_id
        self._causation = causation

    def get_classification(self, source: SourceRef) -> StoredClassification | None:
        """The stored classification of a source, if any."""
        row = self._first(
            sa.select(t.classifications).where(
                t.classifications.c.company_id == self._company_id,
                t.classifications.c.source_type == source.source_type.value,
                t.classifications.c.source_id == source.source_id,
            )
        )
        if row is None:
            return None
        scores = self._scores(t.scores.c.classification_id == row["classification_id"], order_newest=False)
        return t.to_classification(row, scores)

    def add_classification(self, stored: StoredClassification) -> None:
        """Stores a classification with its scores and evidence; raises DuplicateClassification on a race."""
        try:
            with self._session.begin_nested():
                self._session.execute(t.classifications.insert().values(**t.classification_row(stored)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateClassification(stored.source.source_id) from exc
        for record in stored.scores:
            self.add_score(record)

    def add_score(self, record: ScoreRecord) -> None:
        """Stores one score and links its evidence, storing each snippet once per content hash."""
        self._session.execute(t.scores.insert().values(**t.score_row(record)))
        for item in record.evidence:
            digest = evidence_hash(item.label, item.text)
            self._ensure_snippet(digest, item)
            self._session.execute(t.score_evidence.insert().values(**t.link_row(record, item, digest)))

    def find_score(self, record: ScoreRecord) -> ScoreRecord | None:
        """A stored score with the same subject, source, dimension, value, method and note."""
        c = t.scores.c
        found = self._scores(
            sa.and_(
                c.profile_id == record.profile_id,
                c.source_type == (record.source.source_type.value if record.source else None),
                c.source_id == (record.source.source_id if record.source else None),
                c.dimension == record.dimension.value,
                c.score == record.score.score,
                c.method == record.method.value,
                c.note == record.note,
            ),
            limit=1,
        )
        return found[0] if found else None

    def list_scores(self, where: ScoreFilter, *, limit: int, after: tuple[datetime, str] | None) -> list[ScoreRecord]:
        """Scores matching the filter, newest first, after the cursor."""
        conditions = t.filter_conditions(where)
        if after is not None:
            created, score_id = after
            c = t.scores.c
            conditions.append(sa.or_(c.created_at < created, sa.and_(c.created_at == created, c.score_id < score_id)))
        return self._scores(sa.and_(sa.true(), *conditions), limit=limit)

    def get_pending(self, source: SourceRef) -> PendingText | None:
        """The held text of a source, if any."""
        row = self._first(
            sa.select(t.pending).where(
                t.pending.c.company_id == self._company_id,
                t.pending.c.source_type == source.source_type.value,
                t.pending.c.source_id == source.source_id,
            )
        )
        return None if row is None else t.to_pending(row)

    def put_pending(self, pending: PendingText) -> None:
        """Inserts or updates the held text of a source."""
        key = t.pending.c
        current = self.get_pending(pending.source)
        values = t.pending_row(pending)
        if current is None:
            self._session.execute(t.pending.insert().values(**values))
            return
        self._session.execute(
            t.pending.update()
            .where(
                key.company_id == self._company_id,
                key.source_type == pending.source.source_type.value,
                key.source_id == pending.source.source_id,
            )
            .values(
                text=values["text"],
                state=values["state"],
                review_id=values["review_id"],
                updated_at=values["updated_at"],
            )
        )

    def emit(self, event: ScoresComputed) -> None:
        """Records `q2q.scores.computed` in the outbox, in this transaction."""
        envelope = events.new_event(
            wire.scores_computed(event),
            source=EVENT_SOURCE,
            tenant=self._company_id,
            subject=event.subject,
            causation=self._causation,
        )
        events.record(self._session, envelope)

    def _ensure_snippet(self, digest: str, item: Evidence) -> None:
        exists = self._first(
            sa.select(t.evidence.c.evidence_hash).where(
                t.evidence.c.company_id == self._company_id, t.evidence.c.evidence_hash == digest
            )
        )
        if exists is None:
            row = {"company_id": self._company_id, "evidence_hash": digest, "label": item.label.value}
            self._session.execute(t.evidence.insert().values(**row, snippet=item.text, created_at=datetime.now(UTC)))

    def _scores(
        self, condition: sa.ColumnElement[bool], *, limit: int | None = None, order_newest: bool = True
    ) -> list[ScoreRecord]:
        c = t.scores.c
        order = (c.created_at.desc(), c.score_id.desc()) if order_newest else (c.dimension,)
        query = sa.select(t.scores).where(c.company_id == self._company_id, condition).order_by(*order)
        rows = list(self._session.execute(query.limit(limit) if limit else query).mappings())
        linked = self._evidence_of([row["score_id"] for row in rows])
        return [t.to_score(row, linked.get(row["score_id"], ())) for row in rows]

    def _evidence_of(self, score_ids: Sequence[str]) -> dict[str, tuple[Evidence, ...]]:
        if not score_ids:
            return {}
        link, snippet = t.score_evidence.c, t.evidence.c
        query = (
            sa.select(link.score_id, link.start_offset, link.end_offset, link.reason, snippet.label, snippet.snippet)
            .join(
                t.evidence, sa.and_(snippet.company_id == link.company_id, snippet.evidence_hash == link.evidence_hash)
            )
            .where(link.company_id == self._company_id, link.score_id.in_(score_ids))
            .order_by(link.start_offset, link.end_offset)
        )
        found: dict[str, list[Evidence]] = {}
        for row in self._session.execute(query).mappings():
            item = Evidence(Label(row["label"]), row["snippet"], row["start_offset"], row["end_offset"], row["reason"])
            found.setdefault(row["score_id"], []).append(item)
        return {key: tuple(items) for key, items in found.items()}

    def _first(self, query: sa.Select[Any]) -> sa.RowMapping | None:
        return self._session.execute(query).mappings().first()


class SqlQ2qUnitOfWork:
    """Hands out a company-scoped store inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlQ2qStore]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlQ2qStore(session, company_id=company_id)

    def awaiting_screening(self, limit: int) -> list[PendingText]:
        """Texts of every company awaiting Safety's screening, least recently tried first: the retrier's work
        list and the one read across companies (each text is then settled in its own company's transaction)."""
        c = t.pending.c
        query = (
            sa.select(t.pending)
            .where(c.state == PendingState.AWAITING_SCREENING.value)
            .order_by(c.updated_at, c.company_id, c.source_type, c.source_id)
            .limit(limit)
        )
        with self._uow.begin() as session:
            return [t.to_pending(row) for row in session.execute(query).mappings()]
