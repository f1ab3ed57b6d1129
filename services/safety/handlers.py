"""One function per command: load → call the domain → commit (one unit of work, events in its outbox)."""

from __future__ import annotations

from datetime import datetime

from services.kit.clock import Clock, utc_now
from services.safety.domain import audit
from services.safety.domain import commands as checks
from services.safety.domain.commands import DecideReview, ScreenEventText, ScreenText
from services.safety.domain.errors import ReviewAlreadyDecided, ReviewNotFound
from services.safety.domain.events import FlagRaised, ReviewCompleted, TextScreened
from services.safety.domain.model import Flag, Review, ReviewAction, ReviewRecord, ScreenResult
from services.safety.domain.screening import Screening, screen
from services.safety.repository import DuplicateSource, SafetyRepository, SafetyUnitOfWork


def screen_text(command: ScreenText, *, uow: SafetyUnitOfWork, clock: Clock = utc_now) -> ScreenResult:
    """Screens a text; persists a flag (and queues a review) when anything is found, unless a dry run."""
    screening = screen(command.text)
    if command.dry_run or (not screening.findings and not command.source.source_text_id):
        return ScreenResult.of_screening(screening)
    with uow.begin(company_id=command.company_id) as repository:
        return record_screening(repository, command, screening, now=clock())


def screen_event_text(
    command: ScreenEventText, *, repository: SafetyRepository, clock: Clock = utc_now
) -> ScreenResult:
    """Inside the delivery's transaction: screens the text a source event carries, and announces its verdict
    (`safety.text.screened`) once per source record; without a record id the flag is all the text gets."""
    screening = screen(command.text, field=command.field)
    as_screened = ScreenText(command.company_id, command.text, command.source)
    result = record_screening(repository, as_screened, screening, now=clock())
    source = command.source
    if source.source_text_id and repository.first_announcement(source):
        repository.emit(TextScreened(command.company_id, source, result, command.event_type, command.event_id))
    return result


def record_screening(
    repository: SafetyRepository, command: ScreenText, screening: Screening, *, now: datetime
) -> ScreenResult:
    """Inside the caller's transaction: a text already flagged under its record id keeps its first result;
    otherwise findings raise a flag (`safety.flag.raised`) and a review when one is required."""
    source = command.source
    if source.source_text_id:
        existing = repository.get_flag_by_source(source.source_text_type, source.source_text_id)
        if existing is not None:
            return ScreenResult.of_flag(existing)
    if not screening.findings:
        return ScreenResult.of_screening(screening)
    flag = Flag.raise_for(company_id=command.company_id, source=source, screening=screening, now=now)
    try:
        repository.add_flag(flag)
    except DuplicateSource:
        # A concurrent screening of the same record won the race: its result stands.
        winner = repository.get_flag_by_source(source.source_text_type, source.source_text_id)
        if winner is None:
            raise
        return ScreenResult.of_flag(winner)
    if flag.requires_review:
        repository.add_review(Review.queue(flag))
    repository.emit(FlagRaised(flag))
    return ScreenResult.of_flag(flag)


def decide_review(command: DecideReview, *, uow: SafetyUnitOfWork, clock: Clock = utc_now) -> ReviewRecord:
    """Approves, rejects or escalates an open review; a final decision emits `safety.review.completed`.
    A decided review is never decided again: that, and losing a race to another reviewer, is a conflict."""
    review_id = checks.require_id(command.review_id, "review_id")
    decision, notes = checks.decision(command.decision), checks.notes(command.notes)
    action = ReviewAction(decision, checks.reviewer(command.reviewer), notes, clock())
    with uow.begin(company_id=command.company_id) as repository:
        record = repository.get_review(review_id)
        if record is None:
            raise ReviewNotFound("review not found", metadata={"review_id": review_id})
        decided = ReviewRecord(record.review.decide(action), record.flag)
        if not repository.save_decision(decided.review):
            raise ReviewAlreadyDecided("the review was decided meanwhile", metadata={"review_id": review_id})
        if decided.review.completed:
            repository.emit(ReviewCompleted(decided))
        repository.audit.append(audit.review_decided(record.review, decided.review, action))
    return decided
