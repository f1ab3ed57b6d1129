"""Event consumers: texts Safety screened and Safety's review decisions, translated and handed to the handlers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import orm

from services.kit.audit.records import AuditEntry
from services.kit.logs import get_logger
from services.kit.messaging import erasures, events
from services.q2q import handlers, privacy
from services.q2q.domain import audit
from services.q2q.domain.classifier import Classification, Classifier, Method
from services.q2q.domain.commands import ReviewDecision, SourceText
from services.q2q.domain.model import SourceRef, check_profile_id
from services.q2q.domain.trained_classifier import TrainedClassifier
from services.q2q.repository import SqlQ2qRepository
from services.q2q.wire import SOURCE_FROM_PROTO
from teei.common.v1 import types_pb2
from teei.safety.v1 import events_pb2 as safety_events
from teei.safety.v1 import safety_pb2

log = get_logger(__name__)
# Q2Q never reads the programme sources' raw events: only safety's verdict carries text it may score.
SCREENED_EVENTS = ("safety.text.screened",)
REVIEW_EVENTS = ("safety.review.completed",)
# A new durable name: an existing consumer keeps its first filter, so the old name would keep raw events.
SCREENED_CONSUMER = "q2q-screened-texts"
REVIEW_CONSUMER = "q2q-safety-reviews"
# The shipped trained model (services/q2q/model, docs/q2q/model-card.md); rules stay inside it where better.
_DEFAULT_CLASSIFIER = TrainedClassifier.load()
_VERDICTS = (
    types_pb2.SCREENING_OUTCOME_PASSED,
    types_pb2.SCREENING_OUTCOME_UNSAFE,
    types_pb2.SCREENING_OUTCOME_PENDING_REVIEW,
)


class BatchClassifier:
    """Answers the texts of a fetched batch of events from one model pass made before its events are handled
    one by one (each in its own savepoint, at least once as before); any other text is classified alone.

    One per consumer: its batches are applied one after another, so the answers are never another batch's.
    """

    def __init__(self, classifier: Classifier) -> None:
        self._classifier = classifier
        self._ready: dict[str, Classification] = {}

    @property
    def method(self) -> Method:
        """The wrapped classifier's."""
        return self._classifier.method

    @property
    def model_version(self) -> str:
        """The wrapped classifier's."""
        return self._classifier.model_version

    def prepare(self, texts: Sequence[str]) -> None:
        """Classifies the batch's texts together, forgetting the previous batch's answers."""
        distinct = list(dict.fromkeys(text for text in texts if text.strip()))
        self._ready = dict(zip(distinct, self._classifier.classify_batch(distinct), strict=True))

    def classify(self, text: str) -> Classification:
        """The prepared answer (the same as classifying the text alone), else the text classified alone."""
        ready = self._ready.get(text)
        return ready if ready is not None else self._classifier.classify(text)

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """The wrapped classifier's batch."""
        return self._classifier.classify_batch(texts)


def screened_texts(envelopes: Sequence[events.Envelope]) -> list[str]:
    """The texts of a batch that its handlers will score: those Safety passed. An event that cannot be read
    is left to its handler, which fails, retries or skips it as before."""
    texts: list[str] = []
    for envelope in envelopes:
        if envelope.type not in SCREENED_EVENTS or not envelope.tenant:
            continue
        try:
            payload: safety_events.TextScreened = events.payload_of(envelope)
        except Exception:  # noqa: S112 - an unreadable event is its handler's to report, not the batch's
            continue
        if payload.screening.outcome == types_pb2.SCREENING_OUTCOME_PASSED and payload.redacted_text.strip():
            texts.append(payload.redacted_text)
    return texts


def classify_text_event(
    envelope: events.Envelope, session: orm.Session, *, classifier: Classifier | None = None
) -> None:
    """Scores a text screened as passed, holds one pending review, keeps nothing of an unsafe one."""
    command = screened_text(envelope)
    if command is None:
        return
    repo = SqlQ2qRepository(session, company_id=command.company_id, causation=envelope)
    handlers.receive_source_text(command, repo=repo, classifier=classifier or _DEFAULT_CLASSIFIER)


def review_completed(envelope: events.Envelope, session: orm.Session, *, classifier: Classifier | None = None) -> None:
    """An approved review releases the held text for scoring; a rejected one discards it."""
    command = review_decision(envelope)
    if command is None:
        return
    repo = SqlQ2qRepository(session, company_id=command.company_id, causation=envelope)
    handlers.apply_review(command, repo=repo, classifier=classifier or _DEFAULT_CLASSIFIER)


def screened_text(envelope: events.Envelope) -> SourceText | None:
    """The command of a `safety.text.screened` event; None when there is nothing to score or hold."""
    if envelope.type not in SCREENED_EVENTS or not envelope.tenant:
        log.warning("q2q.event_ignored", event_type=envelope.type, event_id=envelope.id, reason="unknown or no tenant")
        return None
    payload: safety_events.TextScreened = events.payload_of(envelope)
    source_type = SOURCE_FROM_PROTO.get(payload.source_text_type)
    outcome = payload.screening.outcome
    if source_type is None or not payload.source_text_id or outcome not in _VERDICTS:
        log.warning("q2q.event_ignored", event_type=envelope.type, event_id=envelope.id, reason="incomplete verdict")
        return None
    return SourceText(
        company_id=envelope.tenant,
        source=SourceRef(source_type, payload.source_text_id),
        profile_id=_profile(payload.profile_id),
        # Only the redacted text is ever scored or held; an unsafe text arrives without one.
        text=payload.redacted_text,
        screened_safe=outcome == types_pb2.SCREENING_OUTCOME_PASSED,
        screened_unsafe=outcome == types_pb2.SCREENING_OUTCOME_UNSAFE,
        review_id=payload.screening.review_id,
    )


def review_decision(envelope: events.Envelope) -> ReviewDecision | None:
    """The command of a final review decision about a stored text; None for ad hoc text or an open review."""
    if envelope.type not in REVIEW_EVENTS or not envelope.tenant:
        return None
    payload: safety_events.ReviewCompleted = events.payload_of(envelope)
    source_type = SOURCE_FROM_PROTO.get(payload.source_text_type)
    final = payload.status in (safety_pb2.REVIEW_STATUS_APPROVED, safety_pb2.REVIEW_STATUS_REJECTED)
    if source_type is None or not payload.source_text_id or not final:
        return None
    return ReviewDecision(
        company_id=envelope.tenant,
        source=SourceRef(source_type, payload.source_text_id),
        profile_id=_profile(payload.profile_id),
        approved=payload.status == safety_pb2.REVIEW_STATUS_APPROVED,
        redacted_text=payload.redacted_text,
        review_id=payload.review_id,
    )


def _profile(profile_id: str) -> str:
    return "" if check_profile_id(profile_id, required=False) else profile_id


def swept_audit(swept: erasures.Swept) -> AuditEntry:
    """The audit entry of a sweep after the platform's erasure: the erasure's, by profile id only."""
    done = swept.erasure
    return audit.subject_erased(
        swept.company_id,
        privacy_request_id=swept.privacy_request_id,
        profile_id=swept.profile_id,
        email="",
        found=done.found,
        erased=done.erased,
        retained=done.retained,
    )


def subscriptions(classifier: Classifier) -> list[events.Subscription]:
    """The service's durable consumers, bound to a classifier."""

    def bind(handler: Callable[..., None], bound: Classifier) -> events.Handler:
        return lambda envelope, session: handler(envelope, session, classifier=bound)

    batch = BatchClassifier(classifier)

    def prepare(envelopes: Sequence[events.Envelope]) -> None:
        batch.prepare(screened_texts(envelopes))

    return [
        events.Subscription(SCREENED_CONSUMER, SCREENED_EVENTS, bind(classify_text_event, batch), prepare=prepare),
        events.Subscription(REVIEW_CONSUMER, REVIEW_EVENTS, bind(review_completed, classifier)),
        # Scores and held texts re-learnt about a person the platform erased go again, audited as erasures.
        erasures.subscription(privacy.MAP, audit=swept_audit),
    ]


SUBSCRIPTIONS = subscriptions(_DEFAULT_CLASSIFIER)
