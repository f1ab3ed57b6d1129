"""One function per command, each in one unit of work (or, for events, the consumer's transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.kit.clock import Clock, utc_now
from services.kit.grpc.resilience import remaining_time
from services.kit.logs import get_logger
from services.q2q.domain import audit
from services.q2q.domain.classification import (
    ClassifyOutcome,
    ScreeningOutcome,
    check_classify,
    check_classify_batch,
    classify_text,
    classify_texts,
    manual_score,
    same_text,
    stored_outcome,
)
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.commands import ClassifyText, RecordManualScore, ReviewDecision, SourceText
from services.q2q.domain.errors import ScreeningNotConfigured
from services.q2q.domain.events import ScoresComputed
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    ScoreRecord,
    SourceRef,
    StoredClassification,
    check_text,
    content_hash,
)
from services.q2q.repository import DuplicateClassification, Q2qRepository, Q2qUnitOfWork
from services.q2q.screening import held_texts
from services.q2q.screening.credentials import SubmitterTokens
from services.q2q.screening.safety import Screener, ScreeningRequest, ScreeningUnavailable

log = get_logger(__name__)
# Of the caller's remaining time, the share Safety may use: the rest keeps the text and answers in time.
SCREENING_SHARE = 0.75


@dataclass(frozen=True)
class ScreeningParts:
    """What storing through screening needs: the store, the classifier, Safety (None: not configured), tokens."""

    uow: Q2qUnitOfWork
    classifier: Classifier
    screener: Screener | None
    tokens: SubmitterTokens
    clock: Clock = utc_now


async def classify(command: ClassifyText, *, parts: ScreeningParts, bearer: str | None) -> ClassifyOutcome:
    """Answers Classify: in memory without `store`; with it, screened by Safety first (services.q2q.screening)."""
    check_classify(command)
    return await _classify_checked(command, parts=parts, bearer=bearer)


async def classify_batch(
    commands: Sequence[ClassifyText], *, parts: ScreeningParts, bearer: str | None
) -> list[ClassifyOutcome]:
    """Answers ClassifyBatch in the items' order: every item checked before any is classified (so a refused
    batch stores nothing); the texts kept in memory classified together in one model pass (off the event
    loop: a full batch takes tens of milliseconds); each one to store screened and stored as Classify does."""
    check_classify_batch(commands)
    in_memory = [index for index, command in enumerate(commands) if not _stores(command)]
    texts = [commands[index].text for index in in_memory]
    together = await asyncio.to_thread(classify_texts, texts, classifier=parts.classifier)
    outcomes = dict(zip(in_memory, together, strict=True))
    for index, command in enumerate(commands):
        if index not in outcomes:
            outcomes[index] = await _classify_checked(command, parts=parts, bearer=bearer)
    return [outcomes[index] for index in range(len(commands))]


def _stores(command: ClassifyText) -> bool:
    return command.store and command.source_type is not None


async def _classify_checked(command: ClassifyText, *, parts: ScreeningParts, bearer: str | None) -> ClassifyOutcome:
    if not _stores(command) or command.source_type is None:
        return classify_text(command.text, classifier=parts.classifier)
    if parts.screener is None:
        raise ScreeningNotConfigured("storing needs safety screening, and no safety service is configured")
    source = SourceRef(command.source_type, command.source_id)
    request = ScreeningRequest(command.company_id, source, command.profile_id, command.text)
    try:
        verdict = await parts.screener.screen(request, bearer=bearer, seconds=_budget())
    except ScreeningUnavailable as exc:
        await _keep_for_screening(request, parts, bearer, reason=str(exc))
        outcome = classify_text(command.text, classifier=parts.classifier)
        return replace(outcome, screening=ScreeningOutcome.AWAITING_SCREENING)
    stored = await asyncio.to_thread(settle, verdict, parts)
    if stored is not None:
        return replace(stored_outcome(stored), screening=ScreeningOutcome.PASSED)
    outcome = classify_text(verdict.text or command.text, classifier=parts.classifier)
    unsafe = verdict.screened_unsafe
    return replace(outcome, screening=ScreeningOutcome.UNSAFE if unsafe else ScreeningOutcome.HELD_FOR_REVIEW)


def settle(verdict: SourceText, parts: ScreeningParts) -> StoredClassification | None:
    """Applies Safety's verdict on a text Q2Q asked it to screen; the stored classification when it was safe."""
    try:
        with parts.uow.begin(company_id=verdict.company_id) as repo:
            return _apply_verdict(verdict, repo=repo, classifier=parts.classifier, clock=parts.clock)
    except DuplicateClassification:
        with parts.uow.begin(company_id=verdict.company_id) as repo:
            return same_text(repo.get_classification(verdict.source), content_hash(verdict.text))


def mark_tried(held: PendingText, *, uow: Q2qUnitOfWork) -> None:
    """Moves a waiting text behind the others (its update time), unless it was settled meanwhile."""
    with uow.begin(company_id=held.company_id) as repo:
        current = repo.get_pending(held.source)
        if current is not None and current.state is held.state:
            repo.put_pending(current)


def record_manual_score(command: RecordManualScore, *, uow: Q2qUnitOfWork, clock: Clock = utc_now) -> ScoreRecord:
    """Stores a score set by a person, audited; an identical repeat returns the stored score and emits and
    records nothing."""
    record = manual_score(command, now=clock())
    with uow.begin(company_id=command.company_id) as repo:
        existing = repo.find_score(record)
        if existing is not None:
            return existing
        repo.add_score(record)
        repo.emit(ScoresComputed.of_score(record))
        repo.audit.append(audit.manual_score_recorded(record))
    return record


def receive_source_text(
    command: SourceText, *, repo: Q2qRepository, classifier: Classifier, clock: Clock = utc_now
) -> None:
    """Classifies a text screened safe; holds one awaiting review; drops one screened unsafe."""
    held_texts.end_wait(repo, command, clock=clock)
    if not command.text.strip() or command.screened_unsafe:
        return
    if command.screened_safe:
        held_texts.score_if_unscored(
            repo, command, text=command.text, profile_id=command.profile_id, classifier=classifier, clock=clock
        )
        return
    held_texts.hold_for_review(repo, command, clock=clock)


def apply_review(
    command: ReviewDecision, *, repo: Q2qRepository, classifier: Classifier, clock: Clock = utc_now
) -> None:
    """An approved review releases the held (redacted) text for scoring; a rejected one discards it."""
    held = repo.get_pending(command.source)
    if held is not None and held.state not in (PendingState.AWAITING_REVIEW, PendingState.AWAITING_SCREENING):
        return  # decided before: a replayed decision changes nothing
    profile_id = command.profile_id or (held.profile_id if held else "")
    state = PendingState.RELEASED if command.approved else PendingState.REJECTED
    text = command.redacted_text or (held.text if held else "")
    if command.approved and text.strip():
        held_texts.score_if_unscored(
            repo, command, text=text, profile_id=profile_id, classifier=classifier, clock=clock
        )
    # The decision is kept (without the text) so a late source event is not held forever.
    repo.put_pending(PendingText(command.company_id, command.source, profile_id, "", command.review_id, state, clock()))


def _apply_verdict(
    command: SourceText, *, repo: Q2qRepository, classifier: Classifier, clock: Clock
) -> StoredClassification | None:
    # Needing review or unsafe: exactly as an event-screened text. Safe: scored here, and
    # SourceAlreadyClassified propagates (the caller decides how a changed text is answered).
    if not command.screened_safe:
        receive_source_text(command, repo=repo, classifier=classifier, clock=clock)
        return None
    held_texts.end_wait(repo, command, clock=clock)
    if check_text(command.text):
        return None
    return held_texts.store_classification(
        repo, company_id=command.company_id, source=command.source, profile_id=command.profile_id,
        text=command.text, classifier=classifier, clock=clock,
    )  # fmt: skip


async def _keep_for_screening(
    request: ScreeningRequest, parts: ScreeningParts, bearer: str | None, *, reason: str
) -> None:
    held = PendingText(
        request.company_id, request.source, request.profile_id, request.text, "",
        PendingState.AWAITING_SCREENING, parts.clock(),
    )  # fmt: skip

    def keep() -> bool:
        with parts.uow.begin(company_id=request.company_id) as repo:
            return held_texts.await_screening(held, repo=repo)

    if await asyncio.to_thread(keep):
        parts.tokens.remember((request.company_id, request.source), bearer)
    source = request.source
    log.warning(
        "q2q.screening_deferred", reason=reason, source_type=source.source_type.value, source_id=source.source_id
    )


def _budget() -> float | None:
    remaining = remaining_time()
    return None if remaining is None else max(0.0, remaining * SCREENING_SHARE)
