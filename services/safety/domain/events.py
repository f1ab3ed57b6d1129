"""Safety's domain events: what happened, before anything turns it into an envelope."""

from __future__ import annotations

from dataclasses import dataclass

from services.safety.domain.model import Flag, Outcome, ReviewRecord, ScreenResult, TextSource


@dataclass(frozen=True)
class FlagRaised:
    """A screening found something and left a flag behind; becomes `safety.flag.raised`."""

    flag: Flag


@dataclass(frozen=True)
class ReviewCompleted:
    """A review got its final decision; becomes `safety.review.completed`."""

    record: ReviewRecord


@dataclass(frozen=True)
class TextScreened:
    """The text of a source event got its verdict; becomes `safety.text.screened`."""

    company_id: str
    source: TextSource
    result: ScreenResult
    source_event_type: str
    source_event_id: str

    @property
    def passed_on_text(self) -> str:
        """The redacted text that travels with the verdict: an unsafe text travels no further."""
        return "" if self.result.outcome is Outcome.UNSAFE else self.result.redacted_text


SafetyEvent = FlagRaised | ReviewCompleted | TextScreened
