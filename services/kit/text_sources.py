"""The kinds of free text the platform screens (Safety) and classifies (Q2Q): one domain type for both."""

from __future__ import annotations

from enum import StrEnum


class TextSourceType(StrEnum):
    """Kind of free text, by the record that holds it."""

    KINTELL_SESSION_FEEDBACK = "kintell_session_feedback"
    KINTELL_RATING_FEEDBACK = "kintell_rating_feedback"
    BUDDY_FEEDBACK = "buddy_feedback"
    BUDDY_CHECKIN_NOTES = "buddy_checkin_notes"
    SURVEY_RESPONSE = "survey_response"
    OTHER = "other"
