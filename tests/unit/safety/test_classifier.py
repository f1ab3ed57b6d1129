"""The trained classifier's arithmetic and how screening combines it with the rules, on a hand-made model."""

from __future__ import annotations

import numpy as np
import pytest

from services.safety.domain import classifier, screening
from services.safety.domain.classifier import LABELS, LinearClassifier
from services.safety.domain.findings import FindingType


def _model(weights: dict[str, tuple[float, ...]], *, bias: float = -1.0, threshold: float = 0.5) -> LinearClassifier:
    index = {feature: j for j, feature in enumerate(weights)}
    return LinearClassifier(
        LABELS,
        index,
        np.ones(len(weights), dtype=np.float32),
        # A label the test does not name weighs 0.
        np.asarray([[*row, *[0.0] * (len(LABELS) - len(row))] for row in weights.values()], dtype=np.float32),
        np.full(len(LABELS), bias, dtype=np.float32),
        np.full(len(LABELS), threshold, dtype=np.float32),
    )


def _features(text: str) -> list[tuple[int, str]]:
    return classifier.features(classifier.words(text))


def test_a_word_gives_itself_and_its_character_runs_and_a_pair_joins_two_words() -> None:
    assert set(_features("hi")) == {(0, "w:hi"), (0, "c: hi"), (0, "c:hi "), (0, "c: hi ")}
    listed = _features("jeg orker 12")
    assert (1, "b:jeg orker") in listed
    assert (2, "w:00") in listed
    assert (2, "b:orker 00") in listed
    assert {f for _, f in listed if f.startswith("c:") and "rke" in f} == {
        "c:rke",
        "c:orke",
        "c:rker",
        "c: orke",
        "c:orker",
        "c:rker ",
    }


def test_a_text_is_scored_on_its_words_parts_scaled_by_their_summed_squares() -> None:
    model = _model({"w:vanish": (4.0, 0.0), "w:want": (2.0, 0.0)})
    logits = model.logits("i want to vanish")
    # Two known features of IDF 1 in two words: summed squares 2; unknown words count for nothing.
    assert logits[0] == pytest.approx(-1.0 + 6.0 / np.sqrt(2))
    assert logits[1] == pytest.approx(-1.0)


def test_a_text_without_known_features_gets_the_bias_alone() -> None:
    model = _model({"w:vanish": (4.0, 0.0)})
    assert model.probabilities("hello there") == pytest.approx([1 / (1 + np.e)] * len(LABELS))


def test_a_known_word_pair_adds_to_the_second_word() -> None:
    model = _model({"w:let": (1.0, 0.0), "b:let go": (3.0, 0.0)})
    assert model.logits("let go")[0] == pytest.approx(-1.0 + 4.0 / np.sqrt(2))


def test_a_word_scored_from_the_cache_counts_as_when_first_met() -> None:
    weights: dict[str, tuple[float, ...]] = {"w:vanish": (4.0, 1.0), "c:ani": (0.5, 0.0), "b:vanish now": (1.0, 0.0)}
    cached = _model(weights)
    cached.logits("i vanish")  # "vanish" is met and cached here, without the pair
    fresh = _model(weights)
    assert cached.logits("vanish now") == pytest.approx(fresh.logits("vanish now"))
    assert fresh.logits("vanish now")[0] == pytest.approx(-1.0 + (4.0 + 0.5 + 1.0) / np.sqrt(3))


def test_a_detection_names_the_sentence_that_moved_the_label_most() -> None:
    model = _model({"w:vanish": (6.0, 0.0), "w:session": (-0.5, 0.0)})
    text = "Good session today. Honestly I just want to vanish! See you Monday"
    (detection,) = model.find(text, text.lower())
    assert detection.label == "self_harm"
    assert (detection.span.start, detection.span.end) == (20, 50)
    assert detection.span.text == "Honestly I just want to vanish"


def test_a_label_below_its_threshold_is_not_found() -> None:
    model = _model({"w:vanish": (1.0, 0.0)}, threshold=0.9)
    assert model.find("vanish", "vanish") == []


def test_the_classifier_adds_a_finding_of_a_type_no_rule_found(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _model({"w:vanish": (8.0, 0.0)}))
    result = screening.screen("Lately I keep thinking I should simply vanish.")
    (finding,) = result.findings
    assert finding.type is FindingType.SELF_HARM
    assert "trained classifier" in finding.reason
    assert result.verdict.requires_review
    assert not result.verdict.is_unsafe


def test_a_rule_finding_of_the_same_type_leaves_the_classifier_out(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _model({"w:die": (8.0, 0.0)}))
    result = screening.screen("I want to die")
    assert [f.reason for f in result.findings if f.type is FindingType.SELF_HARM]
    assert not [f for f in result.findings if "trained classifier" in f.reason]


def test_a_classifier_toxic_finding_holds_the_text_for_review(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _model({"w:parasite": (0.0, 0.0, 8.0)}))
    result = screening.screen("go away, parasite")
    (finding,) = result.findings
    assert (finding.type, finding.subtype) == (FindingType.TOXIC, "abuse")
    assert result.verdict.requires_review
    assert result.verdict.is_unsafe


def test_a_classifier_spam_finding_makes_the_text_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _model({"w:bonus": (0.0, 8.0)}))
    result = screening.screen("claim your bonus today")
    (finding,) = result.findings
    assert finding.type is FindingType.SPAM
    assert result.verdict.is_unsafe


def test_the_shipped_classifier_finds_nothing_in_ordinary_programme_text() -> None:
    for text in ("Thanks for the session, see you on Thursday!", "Kan vi flytte møtet til fredag?"):
        assert screening.screen(text).findings == ()


def _use(monkeypatch: pytest.MonkeyPatch, model: LinearClassifier) -> None:
    manifest, _ = classifier.shipped()
    monkeypatch.setattr(classifier, "shipped", lambda: (manifest, model))
