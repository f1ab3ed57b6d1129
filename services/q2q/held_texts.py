"""Held texts: scored when screened safe, held until a safety review decides, or kept awaiting screening.

Texts arrive screened (programme events via `safety.text.screened`) or are screened on demand by a
synchronous call to Safety (services.q2q.on_demand). When Safety cannot answer, the text is kept as
submitted in the state AWAITING_SCREENING until the retrier gets Safety's answer; whichever verdict
comes first (the retried call, an event, or a review decision) settles it and overwrites the unscreened text.
"""

from __future__ import annotations

from services.kit.logs import get_logger
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.commands import ReviewDecision, SourceText
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    SourceAlreadyClassified,
    StoredClassification,
    check_text,
)
from services.q2q.handlers import Clock, classify_and_store, utc_now
from services.q2q.repository import Q2qStore

log = get_logger(__name__)


def receive_source_text(
    command: SourceText, *, store: Q2qStore, classifier: Classifier, clock: Clock = utc_now
) -> None:
    """Classifies a text screened safe; holds one awaiting review; drops one screened unsafe."""
    _settle_awaiting(store, command, clock)
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
    if held is not None and held.state not in (PendingState.AWAITING_REVIEW, PendingState.AWAITING_SCREENING):
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


def apply_screening(
    command: SourceText, *, store: Q2qStore, classifier: Classifier, clock: Clock = utc_now
) -> StoredClassification | None:
    """Safety's answer to a screening Q2Q asked for (on demand, or retried): a safe text is scored and its
    classification returned; one needing review is held exactly like an event-driven text; an unsafe one
    is dropped. SourceAlreadyClassified propagates (the caller decides how a changed text is answered)."""
    if not command.screened_safe:
        receive_source_text(command, store=store, classifier=classifier, clock=clock)
        return None
    _settle_awaiting(store, command, clock)
    if check_text(command.text):
        return None
    return classify_and_store(
        store,
        company_id=command.company_id,
        source=command.source,
        profile_id=command.profile_id,
        text=command.text,
        classifier=classifier,
        clock=clock,
    )


def await_screening(held: PendingText, *, store: Q2qStore) -> bool:
    """Keeps a text Safety could not screen yet, as submitted, awaiting screening; True when it now waits.
    A source already held, decided or scored keeps what it has (a repeat changes nothing)."""
    existing = store.get_pending(held.source)
    if existing is not None:
        return existing.state is PendingState.AWAITING_SCREENING
    if store.get_classification(held.source) is not None:
        return False
    store.put_pending(held)
    return True


def _settle_awaiting(store: Q2qStore, command: SourceText, clock: Clock) -> None:
    # A verdict ends the wait; the unscreened text is overwritten (by the redacted one, or by nothing).
    held = store.get_pending(command.source)
    if held is None or held.state is not PendingState.AWAITING_SCREENING:
        return
    if command.screened_safe or command.screened_unsafe:
        state, text = (PendingState.RELEASED if command.screened_safe else PendingState.REJECTED), ""
    else:
        state, text = PendingState.AWAITING_REVIEW, command.text
    profile_id = command.profile_id or held.profile_id
    store.put_pending(PendingText(held.company_id, held.source, profile_id, text, command.review_id, state, clock()))


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
