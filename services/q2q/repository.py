"""Q2Q's write side: the repository port, its SQLAlchemy adapter, and the unit of work (one company each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.audit.trail import AuditTrail, SqlAuditTrail
from services.kit.messaging.events import Envelope, record
from services.kit.persistence.db import SqlTenantUnitOfWork, TenantUnitOfWork, UnitOfWork
from services.kit.security import pii
from services.q2q import events, rows, sealing
from services.q2q import tables as t
from services.q2q.domain.classifier import Evidence
from services.q2q.domain.events import ScoresComputed
from services.q2q.domain.model import (
    PendingText,
    ScoreFilter,
    ScoreRecord,
    SourceRef,
    StoredClassification,
)


class DuplicateClassification(Exception):
    """Another transaction stored a classification of the same source first."""


class Q2qRepository(Protocol):
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

    @property
    def audit(self) -> AuditTrail: ...


Q2qUnitOfWork = TenantUnitOfWork[Q2qRepository]


class SqlQ2qRepository:
    """Q2Q records of one company in a SQL database; `causation` is the event being handled, if any."""

    def __init__(self, session: orm.Session, *, company_id: str, causation: Envelope | None = None) -> None:
        self._session = session
        self._company_id = company_id
        self._causation = causation
        self._audit = SqlAuditTrail(session)

    @property
    def audit(self) -> AuditTrail:
        """The audit log, in this repository's transaction."""
        return self._audit

    def get_classification(self, source: SourceRef) -> StoredClassification | None:
        """The stored classification of a source, if any."""
        row = self._first(sa.select(t.classifications).where(*self._source_is(t.classifications, source)))
        if row is None:
            return None
        scores = self._scores(t.scores.c.classification_id == row["classification_id"], order_newest=False)
        return rows.to_classification(row, scores)

    def add_classification(self, stored: StoredClassification) -> None:
        """Stores a classification with its scores and evidence; raises DuplicateClassification on a race."""
        try:
            with self._session.begin_nested():
                self._session.execute(t.classifications.insert().values(**rows.classification_row(stored)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateClassification(stored.source.source_id) from exc
        for score in stored.scores:
            self.add_score(score)

    def add_score(self, record: ScoreRecord) -> None:
        """Stores one score (its note sealed with the scored person's key) and links its evidence, storing
        each snippet once per person (sealed with their key; services/q2q/sealing.py)."""
        cipher = self._cipher
        self._session.execute(
            t.scores.insert().values(**sealing.SCORES.seal(self._session, cipher, rows.score_row(record)))
        )
        for item in record.evidence:
            digest = sealing.evidence_hash(cipher, self._company_id, record.profile_id, item.label.value, item.text)
            snippet = rows.snippet_row(record, digest, item, created_at=datetime.now(UTC))
            sealing.ensure_snippet(self._session, cipher, snippet)
            self._session.execute(t.score_evidence.insert().values(**rows.link_row(record, item, digest)))

    def find_score(self, record: ScoreRecord) -> ScoreRecord | None:
        """A stored score with the same subject, source, dimension, value, method and note (compared opened:
        a sealed note never equals another)."""
        c = t.scores.c
        found = self._scores(
            sa.and_(
                c.profile_id == record.profile_id,
                c.source_type == (record.source.source_type.value if record.source else None),
                c.source_id == (record.source.source_id if record.source else None),
                c.dimension == record.dimension.value,
                c.score == record.score.score,
                c.method == record.method.value,
            ),
        )
        return next((score for score in found if score.note == record.note), None)

    def list_scores(self, where: ScoreFilter, *, limit: int, after: tuple[datetime, str] | None) -> list[ScoreRecord]:
        """Scores matching the filter, newest first, after the cursor."""
        conditions = _filter_conditions(where)
        if after is not None:
            created, score_id = after
            c = t.scores.c
            conditions.append(sa.or_(c.created_at < created, sa.and_(c.created_at == created, c.score_id < score_id)))
        return self._scores(sa.and_(sa.true(), *conditions), limit=limit)

    def get_pending(self, source: SourceRef) -> PendingText | None:
        """The held text of a source, if any."""
        row = self._first(sa.select(t.pending).where(*self._source_is(t.pending, source)))
        return None if row is None else rows.to_pending(sealing.PENDING.open(self._cipher, row))

    def put_pending(self, pending: PendingText) -> None:
        """Inserts or updates the held text of a source, sealed with its author's key."""
        plain = rows.pending_row(pending, updated_at=datetime.now(UTC))
        values = sealing.PENDING.seal(self._session, self._cipher, plain)
        if self.get_pending(pending.source) is None:
            self._session.execute(t.pending.insert().values(**values))
            return
        changed = {key: values[key] for key in ("text", "state", "review_id", "updated_at")}
        self._session.execute(t.pending.update().where(*self._source_is(t.pending, pending.source)).values(changed))

    def emit(self, event: ScoresComputed) -> None:
        """Records the event's envelope in the outbox, in this transaction."""
        record(self._session, events.envelope(event, causation=self._causation))

    def _source_is(self, table: sa.Table, source: SourceRef) -> tuple[sa.ColumnElement[bool], ...]:
        c = table.c
        return (
            c.company_id == self._company_id,
            c.source_type == source.source_type.value,
            c.source_id == source.source_id,
        )

    @property
    def _cipher(self) -> pii.PiiCipher:
        return pii.attached(self._session)

    def _scores(
        self, condition: sa.ColumnElement[bool], *, limit: int | None = None, order_newest: bool = True
    ) -> list[ScoreRecord]:
        c = t.scores.c
        order = (c.created_at.desc(), c.score_id.desc()) if order_newest else (c.dimension,)
        query = sa.select(t.scores).where(c.company_id == self._company_id, condition).order_by(*order)
        cipher = self._cipher
        stored = self._session.execute(query.limit(limit) if limit else query).mappings()
        found = [sealing.SCORES.open(cipher, row) for row in stored]
        linked = self._evidence_of([row["score_id"] for row in found])
        return [rows.to_score(row, linked.get(row["score_id"], ())) for row in found]

    def _evidence_of(self, score_ids: Sequence[str]) -> dict[str, tuple[Evidence, ...]]:
        if not score_ids:
            return {}
        link, snippet = t.score_evidence.c, t.evidence.c
        query = (
            sa.select(
                link.score_id,
                link.evidence_hash,
                link.start_offset,
                link.end_offset,
                link.reason,
                snippet.label,
                snippet.snippet,
            )
            .join(
                t.evidence, sa.and_(snippet.company_id == link.company_id, snippet.evidence_hash == link.evidence_hash)
            )
            .where(link.company_id == self._company_id, link.score_id.in_(score_ids))
            .order_by(link.start_offset, link.end_offset)
        )
        found: dict[str, list[Evidence]] = {}
        cipher = self._cipher
        for row in self._session.execute(query).mappings():
            opened = {**row, "snippet": sealing.open_snippet(cipher, row["snippet"], row["evidence_hash"])}
            found.setdefault(row["score_id"], []).append(rows.to_evidence(opened))
        return {key: tuple(items) for key, items in found.items()}

    def _first(self, query: sa.Select[Any]) -> sa.RowMapping | None:
        return self._session.execute(query).mappings().first()


def _filter_conditions(where: ScoreFilter) -> list[sa.ColumnElement[bool]]:
    c = t.scores.c
    conditions: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (c.profile_id, where.profile_id),
        (c.source_id, where.source_id),
        (c.source_type, where.source_type.value if where.source_type else ""),
        (c.dimension, where.dimension.value if where.dimension else ""),
        (c.method, where.method.value if where.method else ""),
    ):
        if value:
            conditions.append(column == value)
    if where.start_time is not None:
        conditions.append(c.created_at >= where.start_time)
    if where.end_time is not None:
        conditions.append(c.created_at < where.end_time)
    return conditions


class SqlQ2qUnitOfWork(SqlTenantUnitOfWork[Q2qRepository]):
    """Hands out a company-scoped Q2Q repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, SqlQ2qRepository)
