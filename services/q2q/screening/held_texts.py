"""Held texts: the steps that score a text screened safe, hold one awaiting review, or keep one awaiting screening.

Texts arrive screened (programme events via `safety.text.screened`) or are screened on demand by a
synchronous call to Safety. When Safety cannot answer, the text is kept as submitted in the state
AWAITING_SCREENING until the retrier gets Safety's answer; whichever verdict comes first (the retried
call, an event, or a review decision) settles it and overwrites the unscreened text. Each step runs in
its caller's transaction (a handler's unit of work, or the session of the event being consumed).
"""

from __future__ import annotations

from services.kit.clock import Clock
from services.kit.logs import get_logger
from services.q2q.domain.classification import new_classification, same_text
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.commands import ReviewDecision, SourceText
from services.q2q.domain.errors import SourceAlreadyClassified
from services.q2q.domain.events import ScoresComputed
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    SourceRef,
    StoredClassification,
    check_text,
    content_hash,
)
from services.q2q.repository import Q2qRepository

log = get_logger(__name__)


def store_classification(
    repo: Q2qRepository, *, company_id: str, source: SourceRef, profile_id: str, text: str, classifier: Classifier,
    clock: Clock,
) -> StoredClassification:  # fmt: skip
    """The stored classification of a source: the existing one, or a new one stored with its event."""
    digest = content_hash(text)
    existing = repo.get_classification(source)
    if existing is not None:
        return same_text(existing, digest)
    result = classifier.classify(text)
    stored = new_classification(
        company_id, source=source, profile_id=profile_id, digest=digest, result=result, now=clock()
    )
    repo.add_classification(stored)
    repo.emit(ScoresComputed.of_classification(stored))
    return stored


def score_if_unscored(
    repo: Q2qRepository, command: SourceText | ReviewDecision, *, text: str, profile_id: str, classifier: Classifier,
    clock: Clock,
) -> None:  # fmt: skip
    """Scores a released text unless it is too long; a source scored before from another text keeps its scores."""
    source_type = command.source.source_type.value
    if check_text(text):
        log.warning("q2q.text_skipped", reason="too_long", source_type=source_type)
        return
    try:
        store_classification(
            repo, company_id=command.company_id, source=command.source, profile_id=profile_id, text=text,
            classifier=classifier, clock=clock,
        )  # fmt: skip
    except SourceAlreadyClassified:
        # An event must not fail forever over an edited text; the first scores stay, visibly logged.
        log.warning("q2q.source_text_changed", source_type=source_type, source_id=command.source.source_id)


def hold_for_review(repo: Q2qRepository, command: SourceText, *, clock: Clock) -> None:
    """Holds a (redacted) text until a review decides; a source already held, decided or scored is left alone."""
    if repo.get_pending(command.source) is not None or repo.get_classification(command.source) is not None:
        return  # already held, decided, or scored: a replay changes nothing
    if check_text(command.text):
        log.warning("q2q.text_skipped", reason="too_long", source_type=command.source.source_type.value)
        return
    repo.put_pending(
        PendingText(
            command.company_id, command.source, command.profile_id, command.text, command.review_id,
            PendingState.AWAITING_REVIEW, clock(),
        )
    )  # fmt: skip


def end_wait(repo: Q2qRepository, command: SourceText, *, clock: Clock) -> None:
    """A verdict ends a wait for screening; the unscreened text is overwritten (by the redacted one, or by nothing)."""
    held = repo.get_pending(command.source)
    if held is None or held.state is not PendingState.AWAITING_SCREENING:
        return
    if command.screened_safe or command.screened_unsafe:
        state, text = (PendingState.RELEASED if command.screened_safe else PendingState.REJECTED), ""
    else:
        state, text = PendingState.AWAITING_REVIEW, command.text
    profile_id = command.profile_id or held.profile_id
    repo.put_pending(PendingText(held.company_id, held.source, profile_id, text, command.review_id, state, clock()))


def await_screening(held: PendingText, *, repo: Q2qRepository) -> bool:
    """Keeps a text Safety could not screen yet, as submitted, awaiting screening; True when it now waits.
    A source already held, decided or scored keeps what it has (a repeat changes nothing)."""
    existing = repo.get_pending(held.source)
    if existing is not None:
        return existing.state is PendingState.AWAITING_SCREENING
    if repo.get_classification(held.source) is not None:
        return False
    repo.put_pending(held)
    return True
