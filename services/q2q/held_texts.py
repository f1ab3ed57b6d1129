"""Texts arriving from programme events: scored when screened safe, held until a safety review decides."""

from __future__ import annotations

from services.kit.logs import get_logger
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.commands import ReviewDecision, SourceText
from services.q2q.domain.model import PendingState, PendingText, SourceAlreadyClassified, check_text
from services.q2q.handlers import Clock, classify_and_store, utc_now
from services.q2q.repository import Q2qStore

log = get_logger(__name__)


def receive_source_text(
    command: SourceText, *, store: Q2qStore, classifier: Classifier, clock: Clock = utc_now
) -> None:
    """Classifies a text screened safe; holds one awaiting review; drops one screened unsafe."""
    if not command.text.strip() or command.screened_unsafe:
        return
    if command.screened_safe:
        _classify(
            store,
            company_id=command.company_id,
            command=command,
            text=command.text,
            profile_id=command.profile_id,
            classifier=classifier,
            clock=clock,
        )
        return
    held = store.get_pending(command.source)
    if held is not None or store.get_classification(command.source) is not None:
        return  # already held, decided, or scored: a replay changes nothing
    if check_text(command.text):
        log.warning("q2q.text_skipped", reason="too_long", source_type=command.source.source_type.value)
        return
    store.put_pending(
        PendingText(
            command.company_id, command.source, command.profile_id, command.text, command.review_id,
            PendingState.AWAITING_REVIEW, clock(),
        )
    )  # fmt: skip


def apply_review(command: ReviewDecision, *, store: Q2qStore, classifier: Classifier, clock: Clock = utc_now) -> None:
    """An approved review releases the held (redacted) text for scoring; a rejected one discards it."""
    held = store.get_pending(command.source)
    if held is not None and held.state is not PendingState.AWAITING_REVIEW:
        return  # decided before: a replayed decision changes nothing
    profile_id = command.profile_id or (held.profile_id if held else "")
    state = PendingState.RELEASED if command.approved else PendingState.REJECTED
    if command.approved:
        text = command.redacted_text or (held.text if held else "")
        if text.strip():
            _classify(
                store,
                company_id=command.company_id,
                command=command,
                text=text,
                profile_id=profile_id,
                classifier=classifier,
                clock=clock,
            )
    # The decision is kept (without the text) so a late source event is not held forever.
    store.put_pending(
        PendingText(command.company_id, command.source, profile_id, "", command.review_id, state, clock())
    )


def _classify(
    store: Q2qStore,
    *,
    company_id: str,
    command: SourceText | ReviewDecision,
    text: str,
    profile_id: str,
    classifier: Classifier,
    clock: Clock,
) -> None:
    source_type = command.source.source_type.value
    if check_text(text):
        log.warning("q2q.text_skipped", reason="too_long", source_type=source_type)
        return
    try:
        classify_and_store(
            store,
            company_id=company_id,
            source=command.source,
            profile_id=profile_id,
            text=text,
            classifier=classifier,
            clock=clock,
        )
    except SourceAlreadyClassified:
        # An event must not fail forever over an edited text; the first scores stay, visibly logged.
        log.warning("q2q.source_text_changed", source_type=source_type, source_id=command.source.source_id)
