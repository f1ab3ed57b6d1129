"""The trained classifier behind the Classifier interface: method and version, rules where they are better,
exact evidence offsets, batches equal to single texts."""

from __future__ import annotations

import pytest

from services.q2q.domain.artifact import read_manifest
from services.q2q.domain.classification import classify_text
from services.q2q.domain.classifier import Method
from services.q2q.domain.taxonomy import Label
from services.q2q.domain.trained_classifier import TrainedClassifier

L = Label
classifier = TrainedClassifier.load()
TEXTS = [
    "I used to be so shy, now I'm the one who asks questions",
    "My mentor never replies to my messages.",
    "She is thinking of dropping the course.",
    "Jeg er ikke ensom lenger, jeg har fått venner i koret.",
    "Мені дуже самотньо, я нікого тут не знаю.",
    "أرسلت سيرتي الذاتية إلى ثلاث شركات.",
    "Ich habe gestern mein erstes Vorstellungsgespräch geübt.",
]


def test_reports_ai_classifier_and_the_manifest_version() -> None:
    result = classifier.classify(TEXTS[0])
    assert classifier.method is Method.AI_CLASSIFIER
    assert result.method is Method.AI_CLASSIFIER
    assert result.model_version == classifier.model_version == read_manifest().model_version


def test_stored_scores_carry_the_method_and_version() -> None:
    outcome = classify_text(TEXTS[1], classifier=classifier)
    assert (outcome.method, outcome.model_version) == (Method.AI_CLASSIFIER, classifier.model_version)


def test_a_state_that_is_over_is_a_change_for_the_better_not_a_decrease() -> None:
    labels = classifier.classify(TEXTS[0]).labels
    assert L.CONFIDENCE_INCREASE in labels
    assert L.CONFIDENCE_DECREASE not in labels


@pytest.mark.parametrize(
    "text",
    [
        # "now" misspelt, and the earlier part alone stays below the threshold of the decrease the whole
        # text reaches.
        "كنت خجولة، لكن اآلن أتحدث مع اجلميع في العمل.",
        # "now" misspelt: the present begins at the "but".
        "Раніше я була сором'язлива, а теппер говорю з усіма на роботі.",
    ],
)
def test_a_shyness_that_is_over_is_never_read_as_a_decrease(text: str) -> None:
    labels = classifier.classify(text).labels
    assert L.CONFIDENCE_INCREASE in labels
    assert L.CONFIDENCE_DECREASE not in labels


def test_a_change_for_the_worse_keeps_its_direction() -> None:
    labels = classifier.classify("I used to feel confident but now I am afraid to speak.").labels
    assert L.CONFIDENCE_DECREASE in labels
    assert L.CONFIDENCE_INCREASE not in labels


def test_a_volunteers_own_worry_is_not_the_participants_anxiety() -> None:
    assert L.ANXIETY not in classifier.classify("I'm a bit worried about her, she looked tired today.").labels


def test_worry_about_helping_enough_is_the_volunteers_own() -> None:
    assert L.ANXIETY not in classifier.classify("Ich mache mir etwas Sorgen, ob ich ihr genug helfen kann.").labels


def test_the_participants_sleeplessness_a_worried_volunteer_reports_is_anxiety() -> None:
    text = "I'm worried about him because he says he can't sleep from stress."
    assert L.ANXIETY in classifier.classify(text).labels


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (TEXTS[1], L.LACK_OF_SUPPORT),
        (TEXTS[2], L.DROPOUT_INDICATION),
        (TEXTS[4], L.ISOLATION),
        (TEXTS[5], L.JOB_SEARCH),
    ],
)
def test_finds_labels_in_several_languages(text: str, label: Label) -> None:
    assert label in classifier.classify(text).labels


@pytest.mark.parametrize("text", TEXTS)
def test_evidence_offsets_are_exact_and_every_label_has_evidence(text: str) -> None:
    result = classifier.classify(text)
    assert {item.label for item in result.evidence} == set(result.labels)
    for item in result.evidence:
        assert text[item.start : item.end] == item.text
        assert item.reason
    assert all(0.0 < result.confidence[label] <= 1.0 for label in result.labels)


@pytest.mark.parametrize("text", ["", "   ", "ok", "Thank you!", "🙂"])
def test_texts_without_signals_have_no_labels(text: str) -> None:
    result = classifier.classify(text)
    assert (result.labels, result.evidence) == ((), ())


def test_a_batch_gives_what_single_texts_give_and_is_deterministic() -> None:
    assert classifier.classify_batch(TEXTS) == [classifier.classify(text) for text in TEXTS]
    assert classifier.classify_batch(TEXTS) == classifier.classify_batch(TEXTS)


def test_at_most_one_language_level_and_one_direction_per_dimension() -> None:
    for text in TEXTS:
        labels = set(classifier.classify(text).labels)
        assert len(labels & {L.LANGUAGE_COMFORT_LOW, L.LANGUAGE_COMFORT_MEDIUM, L.LANGUAGE_COMFORT_HIGH}) <= 1
        assert not {L.CONFIDENCE_INCREASE, L.CONFIDENCE_DECREASE} <= labels
        assert not {L.BELONGING_INCREASE, L.BELONGING_DECREASE} <= labels


@pytest.mark.parametrize(
    "text",
    [
        "We had tea. I used to feel sure of myself, but now I am afraid to speak in class.",
        "Før var jeg trygg på meg selv, men nå tør jeg ikke snakke på jobben.",
        "Förr var jag säker på mig själv, men nu vågar jag inte prata på jobbet.",
        "Früher war ich selbstsicher, aber jetzt traue ich mich nicht mehr zu sprechen.",
        "Kiedyś byłam pewna siebie, ale teraz boję się odezwać na zajęciach.",
        "Antes tenía confianza en mí misma, pero ahora me da miedo hablar en clase.",
    ],
)
def test_a_change_for_the_worse_is_a_decrease_in_every_language(text: str) -> None:
    labels = classifier.classify(text).labels
    assert L.CONFIDENCE_INCREASE not in labels


@pytest.mark.parametrize(
    "text",
    [
        "I just don't fit in at the club. Before, I was afraid to speak. Now I speak up in meetings.",
        "Jeg passer ikke inn i klubben. Før turte jeg ikke å snakke, nå sier jeg fra på møtene.",
    ],
)
def test_a_feeling_outside_the_used_to_clause_is_not_over(text: str) -> None:
    labels = classifier.classify(text).labels
    assert L.BELONGING_INCREASE not in labels


def test_worry_about_helping_enough_phrased_as_a_clause_is_the_volunteers_own() -> None:
    assert L.ANXIETY not in classifier.classify("I worry I am not helping her enough.").labels
    assert L.ANXIETY not in classifier.classify("Jeg var sellv nervøs før mødet.").labels


@pytest.mark.parametrize(
    "text",
    ["I don't get what my colleagues tell me at lunch.", "Я не розумію мови, коли всі говорять швидко."],
)
def test_not_understanding_speech_is_a_low_language_level_not_confusion(text: str) -> None:
    labels = classifier.classify(text).labels
    assert L.CONFUSION not in labels
    assert L.LANGUAGE_COMFORT_LOW in labels


def test_not_understanding_the_papers_stays_confusion() -> None:
    assert L.CONFUSION in classifier.classify("I have no idea which documents the office wants from me.").labels
