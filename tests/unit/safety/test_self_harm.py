"""Self-harm and suicidal ideation: found in every platform language, always reviewed, urgent, never unsafe alone."""

from __future__ import annotations

import pytest

from services.kit.text_sources import TextSourceType
from services.safety import handlers, queries
from services.safety.domain.commands import ListReviews, ScreenText
from services.safety.domain.findings import FindingType, Priority
from services.safety.domain.model import Outcome, TextSource
from services.safety.domain.screening import screen
from services.safety.repository import SqlSafetyUnitOfWork

ADHOC = TextSource("", TextSourceType.OTHER, "")

IDEATION = [
    ("en", "I want to kill myself"),
    ("en", "Honestly I don't want to live anymore."),
    ("en", "Everyone would be better off without me"),
    ("nb", "Jeg vil ikke leve lenger."),
    ("nb", "Noen ganger har jeg lyst til å ta livet av meg"),
    ("sv", "Jag vill inte leva längre"),
    ("sv", "Jag tänker på att ta livet av mig"),
    ("da", "Jeg vil ikke leve længere"),
    ("da", "Jeg har tænkt på at tage mit eget liv"),
    ("uk", "Я не хочу жити"),
    ("uk", "Іноді думаю покінчити з собою"),
    ("ar", "أريد أن أموت"),
    ("ar", "أفكر أن أقتل نفسي"),
    ("pl", "Nie chcę już żyć"),
    ("pl", "Myślę, żeby odebrać sobie życie"),
    ("es", "Ya no quiero vivir"),
    ("es", "Pienso en quitarme la vida"),
    ("de", "Ich will nicht mehr leben"),
    ("de", "Manchmal will ich mir das Leben nehmen"),
]

IDIOMS = [
    "This homework is killing me, haha.",
    "I'm dying to see my family again!",
    "I don't want to live in Oslo, I prefer Bergen.",
    "I cut myself a slice of bread and we talked.",
    "We will beat you at chess next week.",
    "Jeg vil ikke bo i Oslo.",
]


@pytest.mark.parametrize(("language", "text"), IDEATION)
def test_suicidal_ideation_is_found_in_every_language(language: str, text: str) -> None:
    result = screen(text)
    kinds = {f.type for f in result.findings}
    assert FindingType.SELF_HARM in kinds, language
    assert result.verdict.requires_review
    assert not result.verdict.is_unsafe


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_about_death_and_cutting_are_not_self_harm(text: str) -> None:
    assert screen(text).findings == ()


def test_naming_the_topic_is_a_medium_finding_that_is_still_reviewed() -> None:
    result = screen("My friend talked about suicide last week.")
    assert [(f.type, f.confidence.value) for f in result.findings] == [(FindingType.SELF_HARM, 0.6)]
    assert result.verdict.requires_review


def test_self_harm_is_held_for_review_not_rejected(uow: SqlSafetyUnitOfWork) -> None:
    result = handlers.screen_text(ScreenText("acme", "I want to end my life", ADHOC), uow=uow)
    assert result.outcome is Outcome.PENDING_REVIEW
    assert result.review_id


def test_the_queue_lists_self_harm_first_then_threats_then_the_rest_oldest_first(uow: SqlSafetyUnitOfWork) -> None:
    texts = [
        "you are such an idiot, one",
        "I will kill you",
        "you are such an idiot, two",
        "I want to kill myself",
        "Jeg vil ikke leve lenger",
    ]
    ids = [handlers.screen_text(ScreenText("acme", t, ADHOC), uow=uow).review_id for t in texts]
    seen, token = [], ""
    for _ in range(5):
        page, token = queries.list_reviews(ListReviews("acme", page_size=2, page_token=token), uow=uow)
        seen += [(r.review.review_id, r.review.priority) for r in page]
        if not token:
            break
    assert [review_id for review_id, _ in seen] == [ids[3], ids[4], ids[1], ids[0], ids[2]]
    assert [priority for _, priority in seen] == [
        Priority.URGENT,
        Priority.URGENT,
        Priority.HIGH,
        Priority.ROUTINE,
        Priority.ROUTINE,
    ]
