"""A batch is checked whole before any text is classified, and classifying texts together changes no answer."""

from __future__ import annotations

import pytest

from services.kit.text_sources import TextSourceType
from services.q2q.domain.classification import (
    MAX_BATCH_ITEMS,
    MAX_BATCH_TEXT_BYTES,
    check_classify_batch,
    classify_text,
    classify_texts,
)
from services.q2q.domain.classifier import Classifier, RuleBasedClassifier
from services.q2q.domain.commands import ClassifyText
from services.q2q.domain.errors import InvalidQ2qRequest
from services.q2q.domain.trained_classifier import TrainedClassifier

TEXTS = (
    "I feel much more confident now, and I updated my CV. Still a bit lonely though.",
    "I used to be so shy, now I am the one who asks questions.",
    "I'm a bit worried about her, she has not come to the last two sessions.",
    "Jeg føler meg mer selvsikker nå, og jeg har søkt på tre jobber.",
    "ok",
)


def _command(text: str = "fine", **fields: object) -> ClassifyText:
    values: dict[str, object] = dict(
        company_id="acme", text=text, profile_id="", source_type=None, source_id="", store=False
    )
    return ClassifyText(**(values | fields))  # type: ignore[arg-type]


def _fields(commands: list[ClassifyText]) -> list[str]:
    with pytest.raises(InvalidQ2qRequest) as caught:
        check_classify_batch(commands)
    return [violation.field for violation in caught.value.violations]


@pytest.mark.parametrize("classifier", [TrainedClassifier.load(), RuleBasedClassifier()], ids=["trained", "rules"])
def test_texts_classified_together_are_answered_as_each_alone(classifier: Classifier) -> None:
    assert classify_texts(TEXTS, classifier=classifier) == [classify_text(t, classifier=classifier) for t in TEXTS]


def test_a_full_batch_at_the_byte_limit_passes() -> None:
    text = "a" * (MAX_BATCH_TEXT_BYTES // MAX_BATCH_ITEMS)
    check_classify_batch([_command(text)] * MAX_BATCH_ITEMS)


@pytest.mark.parametrize(
    ("commands", "fields"),
    [
        pytest.param([], ["items"], id="empty"),
        pytest.param([_command()] * (MAX_BATCH_ITEMS + 1), ["items"], id="too-many"),
        pytest.param(
            [_command("a" * (MAX_BATCH_TEXT_BYTES // 2 + 1))] * 2,
            ["items", "items[0].text", "items[1].text"],
            id="bytes",
        ),
        pytest.param([_command(), _command(" "), _command(profile_id="x")], ["items[1].text", "items[2].profile_id"]),
        pytest.param(
            [_command(store=True, source_type=TextSourceType.BUDDY_FEEDBACK)], ["items[0].source_text_id"], id="store"
        ),
    ],
)
def test_every_broken_rule_is_named_by_its_item(commands: list[ClassifyText], fields: list[str]) -> None:
    assert _fields(commands) == fields


def test_the_message_names_the_first_broken_items() -> None:
    with pytest.raises(InvalidQ2qRequest, match=r"items\[1\]\.text is required"):
        check_classify_batch([_command(), _command("")])
