"""Q2Q's read side: score listings in keyset pages, and the texts awaiting Safety's screening."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from services.kit import paging
from services.kit.persistence.db import UnitOfWork
from services.kit.security import pii
from services.q2q import rows, sealing
from services.q2q import tables as t
from services.q2q.domain.commands import ListScores
from services.q2q.domain.errors import InvalidQ2qRequest
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    ScoreFilter,
    ScoreRecord,
    check_profile_id,
    check_source_id,
    reject_if,
)
from services.q2q.repository import Q2qUnitOfWork


@dataclass(frozen=True)
class ScorePage:
    """One page of scores, newest first, and the token of the next page ('' on the last)."""

    scores: list[ScoreRecord]
    next_page_token: str


def list_scores(query: ListScores, *, uow: Q2qUnitOfWork) -> ScorePage:
    """One page of a company's scores; the page token is bound to the company and the filters."""
    where = query.where
    reject_if(
        check_profile_id(where.profile_id, required=False) + check_source_id(where.source_id, required=False),
        "the listing request is invalid",
    )
    page = paging.page_request(
        query.page_size, query.page_token, scope=_scope(query.company_id, where), invalid=InvalidQ2qRequest
    )
    after = paging.time_and_id(page.after, invalid=InvalidQ2qRequest) if page.after else None
    with uow.read(company_id=query.company_id) as repo:
        found = repo.list_scores(where, limit=page.size + 1, after=after)
    scores = found[: page.size]
    last = scores[-1] if scores else None
    more = len(found) > page.size
    return ScorePage(scores, page.next_token((last.created_at, last.score_id), more=more) if last else "")


def awaiting_screening(sessions: UnitOfWork, limit: int) -> list[PendingText]:
    """Texts of every company awaiting Safety's screening, least recently tried first: the retrier's work
    list and the one read across companies (each text is then settled in its own company's transaction)."""
    c = t.pending.c
    query = (
        sa.select(t.pending)
        .where(c.state == PendingState.AWAITING_SCREENING.value)
        .order_by(c.updated_at, c.company_id, c.source_type, c.source_id)
        .limit(limit)
    )
    with sessions.read() as session:
        cipher = pii.attached(session)
        return [rows.to_pending(sealing.PENDING.open(cipher, row)) for row in session.execute(query).mappings()]


def _scope(company_id: str, where: ScoreFilter) -> list[str]:
    times = [when.isoformat() if when else "" for when in (where.start_time, where.end_time)]
    kinds = [kind.value if kind else "" for kind in (where.source_type, where.dimension, where.method)]
    return ["q2q.scores", company_id, where.profile_id, where.source_id, *kinds, *times]
