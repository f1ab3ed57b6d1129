"""The rule-based classifier: every label, negation, contrast, language level, exact evidence offsets."""

from __future__ import annotations

import pytest

from services.q2q.domain.classifier import Method, RuleBasedClassifier
from services.q2q.domain.taxonomy import LABELS, Label

L = Label
classifier = RuleBasedClassifier()

EXAMPLES = [
    ("I feel much more confident at work now.", L.CONFIDENCE_INCREASE),
    ("I am too shy to ask questions.", L.CONFIDENCE_DECREASE),
    ("Everyone was so welcoming, I feel part of the community.", L.BELONGING_INCREASE),
    ("I feel like an outsider at my workplace.", L.BELONGING_DECREASE),
    ("I still struggle with the language.", L.LANGUAGE_COMFORT_LOW),
    ("She understands most things if I speak slowly.", L.LANGUAGE_COMFORT_MEDIUM),
    ("Now I can speak with my neighbours without problems.", L.LANGUAGE_COMFORT_HIGH),
    ("I applied for three jobs this week.", L.JOB_SEARCH),
    ("I learned how to use spreadsheets.", L.SKILLS_GAINED),
    ("I met people from an IT company at a networking event.", L.NETWORKING),
    ("We rewrote my CV together.", L.RESUME_IMPROVEMENT),
    ("We did a mock interview.", L.INTERVIEW_PREP),
    ("I got my forklift certificate!", L.CERTIFICATION),
    ("We added three projects to my portfolio.", L.PORTFOLIO_BUILDING),
    ("I want to become a nurse.", L.CAREER_GOAL_SETTING),
    ("I feel so lonely here.", L.ISOLATION),
    ("I'm fed up with all of this.", L.FRUSTRATION),
    ("Boring session, he left early again.", L.DISENGAGEMENT),
    ("I am worried about my permit.", L.ANXIETY),
    ("I am thinking about quitting.", L.DROPOUT_INDICATION),
    ("The instructions were unclear.", L.CONFUSION),
    ("I'm useless.", L.NEGATIVE_SELF_TALK),
    ("Nobody helps me with the paperwork.", L.LACK_OF_SUPPORT),
]


def test_every_taxonomy_label_has_an_example() -> None:
    assert {label for _, label in EXAMPLES} == {entry.label for entry in LABELS}


@pytest.mark.parametrize(("text", "label"), EXAMPLES)
def test_each_label_is_found_with_evidence(text: str, label: Label) -> None:
    result = classifier.classify(text)
    assert label in result.labels
    assert any(item.label is label for item in result.evidence)
    assert 0.0 < result.confidence[label] <= 1.0


@pytest.mark.parametrize(("text", "_"), EXAMPLES)
def test_evidence_offsets_are_exact_and_end_exclusive(text: str, _: Label) -> None:
    for item in classifier.classify(text).evidence:
        assert text[item.start : item.end] == item.text
        assert item.reason


def test_offsets_are_code_points_in_the_original_text() -> None:
    text = "Ærlig talt 😊 — I FEEL SO LONELY\u2019 here"
    (item,) = classifier.classify(text).evidence
    assert text[item.start : item.end] == item.text == "LONELY"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't feel confident on the phone.", {L.CONFIDENCE_DECREASE}),
        ("I'm not lonely anymore.", {L.BELONGING_INCREASE}),
        ("I don't feel lonely with my buddy around.", set()),
        ("I didn't feel welcome in the group.", {L.BELONGING_DECREASE}),
        ("I never felt so welcome.", {L.BELONGING_INCREASE}),
        ("I didn't quit, I'm still here.", set()),
        ("I'm not worried about the interview anymore, we practised a lot.", {L.INTERVIEW_PREP}),
        ("It is not boring at all.", set()),
    ],
)
def test_negation(text: str, expected: set[Label]) -> None:
    assert set(classifier.classify(text).labels) == expected


def test_contrast_lets_the_later_clause_win() -> None:
    result = classifier.classify("I was nervous at first but now I feel confident.")
    assert set(result.labels) == {L.CONFIDENCE_INCREASE}
    kept = classifier.classify("The buddy was nice but I still feel very lonely.")
    assert set(kept.labels) == {L.ISOLATION}


def test_a_past_negative_state_followed_by_progress_is_over() -> None:
    result = classifier.classify("I used to feel lonely, but now I have a lot of friends.")
    assert set(result.labels) == {L.BELONGING_INCREASE}


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("I understand most of it, but I still make mistakes when I speak.", L.LANGUAGE_COMFORT_MEDIUM),
        ("I can read the news now but speaking is still hard.", L.LANGUAGE_COMFORT_MEDIUM),
        ("My Norwegian is so much better. I can now talk to customers.", L.LANGUAGE_COMFORT_HIGH),
    ],
)
def test_at_most_one_language_level(text: str, level: Label) -> None:
    labels = classifier.classify(text).labels
    levels = [label for label in labels if label.value.startswith("language_comfort")]
    assert levels == [level]


def test_intensifiers_raise_and_hedges_lower_confidence() -> None:
    plain = classifier.classify("I feel lonely.").confidence[L.ISOLATION]
    strong = classifier.classify("I feel really lonely.").confidence[L.ISOLATION]
    hedged = classifier.classify("I feel a bit lonely.").confidence[L.ISOLATION]
    assert hedged < plain < strong


def test_repeated_evidence_raises_confidence() -> None:
    once = classifier.classify("I feel lonely.").confidence[L.ISOLATION]
    twice = classifier.classify("I feel lonely. I feel isolated.").confidence[L.ISOLATION]
    assert twice > once


@pytest.mark.parametrize("text", ["", "   ", "ok", "Thank you!", "The coffee machine is broken again."])
def test_texts_without_signals_have_no_labels(text: str) -> None:
    result = classifier.classify(text)
    assert result.labels == ()
    assert result.evidence == ()


def test_deterministic_and_reports_its_method() -> None:
    text = "I feel so lonely, but I applied for three jobs and updated my CV."
    assert classifier.classify(text) == classifier.classify(text)
    assert classifier.method is Method.RULE_BASED
    assert classifier.classify(text).model_version == "rules-1.0.0"
