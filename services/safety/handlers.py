"""One function per command: load → call the domain → commit (one unit of work, events in its outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from services.kit.messaging import events
from services.safety import wire
from services.safety.domain import commands as checks
from services.safety.domain.commands import DecideReview, GetFlag, GetReview, ListFlags, ListReviews, ScreenText
from services.safety.domain.errors import FlagNotFound, ReviewAlreadyDecided, ReviewNotFound
from services.safety.domain.model import Flag, Review, ReviewAction, ReviewRecord, ScreenResult
from services.safety.domain.paging import Cursor, encode_token, page_request
from services.safety.domain.screening import Screening, screen
from services.safety.repository import DuplicateSource, SafetyRepository, SafetyUnitOfWork

Clock = Callable[[], datetime]
EVENT_SOURCE = "teei/safety"


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


def screen_text(command: ScreenText, *, uow: SafetyUnitOfWork, clock: Clock = utc_now) -> ScreenResult:
    """Screens a text; persists a flag (and queues a review) when anything is found, unless a dry run."""
    screening = screen(command.text)
    if command.dry_run or (not screening.findings and not command.source.source_text_id):
        return ScreenResult.of_screening(screening)
    with uow.begin(company_id=command.company_id) as repository:
        return record_screening(repository, command, screening, now=clock())


def record_screening(
    repository: SafetyRepository,
    command: ScreenText,
    screening: Screening,
    *,
    now: datetime,
    causation: events.Envelope | None = None,
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
    repository.emit(
        events.new_event(
            wire.flag_raised(flag),
            source=EVENT_SOURCE,
            tenant=command.company_id,
            subject=flag.flag_id,
            causation=causation,
        )
    )
    return ScreenResult.of_flag(flag)


def get_flag(query: GetFlag, *, uow: SafetyUnitOfWork) -> Flag:
    """One flag of the caller's company."""
    flag_id = checks.require_id(query.flag_id, "flag_id")
    with uow.begin(company_id=query.company_id) as repository:
        flag: Flag | None = repository.get_flag(flag_id)
    if flag is None:
        raise FlagNotFound("flag not found", metadata={"flag_id": flag_id})
    return flag


def list_flags(query: ListFlags, *, uow: SafetyUnitOfWork) -> tuple[list[Flag], str]:
    """A page of the company's flags, newest first, and the token of the next page ("" on the last)."""
    page = page_request(query.page_size, query.page_token)
    query = replace(query, profile_id=checks.optional_id(query.profile_id, "profile_id"))
    with uow.begin(company_id=query.company_id) as repository:
        found: list[Flag] = repository.list_flags(query, page)
    items = found[: page.size]
    more = len(found) > page.size
    return items, encode_token(Cursor(items[-1].created_at, items[-1].flag_id)) if more else ""


def get_review(query: GetReview, *, uow: SafetyUnitOfWork) -> ReviewRecord:
    """One review of the caller's company, with its flag and history."""
    review_id = checks.require_id(query.review_id, "review_id")
    with uow.begin(company_id=query.company_id) as repository:
        record: ReviewRecord | None = repository.get_review(review_id)
    if record is None:
        raise ReviewNotFound("review not found", metadata={"review_id": review_id})
    return record


def list_reviews(query: ListReviews, *, uow: SafetyUnitOfWork) -> tuple[list[ReviewRecord], str]:
    """A page of the review queue, oldest first, and the token of the next page ("" on the last)."""
    status = checks.review_status(query.status)
    profile_id = checks.optional_id(query.profile_id, "profile_id")
    page = page_request(query.page_size, query.page_token)
    with uow.begin(company_id=query.company_id) as repository:
        found: list[ReviewRecord] = repository.list_reviews(status, profile_id, page)
    items = found[: page.size]
    if len(found) <= page.size:
        return items, ""
    last = items[-1].review
    return items, encode_token(Cursor(last.created_at, last.review_id))


def decide_review(command: DecideReview, *, uow: SafetyUnitOfWork, clock: Clock = utc_now) -> ReviewRecord:
    """Approves, rejects or escalates an open review; a final decision emits `safety.review.completed`.
    A decided review is never decided again: that, and losing a race to another reviewer, is a conflict."""
    review_id = checks.require_id(command.review_id, "review_id")
    action = ReviewAction(checks.decision(command.decision), command.reviewer, checks.notes(command.notes), clock())
    with uow.begin(company_id=command.company_id) as repository:
        record: ReviewRecord | None = repository.get_review(review_id)
        if record is None:
            raise ReviewNotFound("review not found", metadata={"review_id": review_id})
        decided = ReviewRecord(record.review.decide(action), record.flag)
        if not repository.save_decision(decided.review):
            raise ReviewAlreadyDecided("the review was decided meanwhile", metadata={"review_id": review_id})
        if decided.review.completed:
            payload = wire.review_completed(decided)
            repository.emit(
                events.new_event(payload, source=EVENT_SOURCE, tenant=command.company_id, subject=review_id)
            )
    return decided
