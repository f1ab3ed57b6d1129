"""On-demand classification: a text to store is screened by Safety first, synchronously, with a stated fallback.

`store=true`: Q2Q calls Safety's ScreenText (not a dry run: Safety records flags and queues reviews)
as the calling end user, then
- safe: the REDACTED text is classified and stored (`q2q.scores.computed`), `stored=true`;
- needs review: the redacted text is held exactly like an event-driven held text (released by
  `safety.review.completed`); the answer carries its scores, `stored=false`;
- unsafe: nothing is kept, `stored=false`.
FALLBACK: when Safety cannot answer (breaker open, bulkhead full, deadline exceeded, unavailable),
the request is still accepted: the text is kept in the held-text store AWAITING_SCREENING and the
answer is the text's scores with `stored=false`; the retrier (services.q2q.screening_retrier) screens
it once Safety answers and then stores, holds or drops it as above. Without a configured Safety,
storing fails closed: FAILED_PRECONDITION SCREENING_NOT_CONFIGURED, nothing kept.
`store=false` classifies in memory and keeps nothing: no screening call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from services.kit.grpc.resilience import remaining_time
from services.kit.logs import get_logger
from services.q2q import handlers, held_texts
from services.q2q.credentials import SubmitterTokens
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.commands import ClassifyText, SourceText
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    ScreeningNotConfigured,
    SourceRef,
    StoredClassification,
    content_hash,
)
from services.q2q.handlers import ClassifyOutcome, Clock, utc_now
from services.q2q.repository import DuplicateClassification, Q2qUnitOfWork
from services.q2q.screening import Screener, ScreeningRequest, ScreeningUnavailable

log = get_logger(__name__)
# Of the caller's remaining time, the share Safety may use: the rest keeps the text and answers in time.
SCREENING_SHARE = 0.75


@dataclass(frozen=True)
class Screening:
    """What screening on demand needs: the store, the classifier, Safety (None: not configured), tokens."""

    uow: Q2qUnitOfWork
    classifier: Classifier
    screener: Screener | None
    tokens: SubmitterTokens
    clock: Clock = utc_now


async def classify(command: ClassifyText, *, parts: Screening, bearer: str | None) -> ClassifyOutcome:
    """Answers Classify: in memory without `store`; with it, screened by Safety first (see module doc)."""
    handlers.check_classify(command)
    if not command.store or command.source_type is None:
        return handlers.classify_text(command.text, classifier=parts.classifier)
    if parts.screener is None:
        raise ScreeningNotConfigured("storing needs safety screening, and no safety service is configured")
    source = SourceRef(command.source_type, command.source_id)
    request = ScreeningRequest(command.company_id, source, command.profile_id, command.text)
    try:
        verdict = await parts.screener.screen(request, bearer=bearer, seconds=_budget())
    except ScreeningUnavailable as exc:
        await _keep_for_screening(request, parts, bearer, reason=str(exc))
        outcome = handlers.classify_text(command.text, classifier=parts.classifier)
        return replace(outcome, screening="awaiting_screening")
    stored = await asyncio.to_thread(settle, verdict, parts)
    if stored is not None:
        return replace(handlers.stored_outcome(stored), screening="passed")
    outcome = handlers.classify_text(verdict.text or command.text, classifier=parts.classifier)
    return replace(outcome, screening="unsafe" if verdict.screened_unsafe else "held_for_review")


def settle(verdict: SourceText, parts: Screening) -> StoredClassification | None:
    """Applies Safety's verdict in one transaction; the stored classification when the text was safe."""
    try:
        with parts.uow.begin(company_id=verdict.company_id) as store:
            return held_texts.apply_screening(verdict, store=store, classifier=parts.classifier, clock=parts.clock)
    except DuplicateClassification:
        with parts.uow.begin(company_id=verdict.company_id) as store:
            return handlers.same_text(store.get_classification(verdict.source), content_hash(verdict.text))


async def _keep_for_screening(request: ScreeningRequest, parts: Screening, bearer: str | None, *, reason: str) -> None:
    held = PendingText(
        request.company_id, request.source, request.profile_id, request.text, "",
        PendingState.AWAITING_SCREENING, parts.clock(),
    )  # fmt: skip

    def keep() -> bool:
        with parts.uow.begin(company_id=request.company_id) as store:
            return held_texts.await_screening(held, store=store)

    if await asyncio.to_thread(keep):
        parts.tokens.remember((request.company_id, request.source), bearer)
    log.warning(
        "q2q.screening_deferred",
        reason=reason,
        source_type=request.source.source_type.value,
        source_id=request.source.source_id,
    )


def _budget() -> float | None:
    remaining = remaining_time()
    return None if remaining is None else max(0.0, remaining * SCREENING_SHARE)
