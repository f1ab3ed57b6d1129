"""The engine's shortcuts (first-character gates, digit counts, one normalised copy) change no finding."""

from __future__ import annotations

import re

import pytest

from services.safety import evaluate
from services.safety.domain import pii, spam
from services.safety.domain.findings import FindingType
from services.safety.domain.obfuscation import gated, normalise, phrase_pattern, stretched, word_pattern
from services.safety.domain.screening import screen

SENTENCES = [
    "Meet me by the old mill on Tuesday, I'll bring the forms.",
    "GO BACK TO WHERE YOU CAME FROM",
    "sh!t, the bus left without me again",
    "Тебе кінець, я знаю де ти живеш",
    "Ring meg på 912 34 567 etter klokka fire",
    "x",
    "",
    "Scunthorpe United won 2-1 at Glanford Park",
]


@pytest.mark.parametrize(
    "pattern",
    [
        re.compile(r"(?:я\s+)?тебе\s+вб"),
        re.compile(r"\bcat|dog\b|(?<!\w)bird"),
        re.compile(r"(?:ab)?c|[xy]z+"),
        re.compile(r"Bus|LEFT", re.IGNORECASE),
        word_pattern(["shit", "bus"], ["s"]),
        phrase_pattern([["go"], ["back"], ["to", ""], ["where"]]),
    ],
)
def test_a_gated_pattern_finds_exactly_what_the_pattern_finds(pattern: re.Pattern[str]) -> None:
    fast = gated(pattern)
    for sentence in [*SENTENCES, "ab c xyz я тебе вб", "the dog and the cat, the BIRD"]:
        text = normalise(sentence)
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in pattern.finditer(text)]


def test_the_gate_lists_only_the_characters_a_match_can_start_with() -> None:
    # An optional first item adds its characters to the next item's.
    assert gated(re.compile(r"(?:ab)?c|[xy]z")).pattern.startswith("(?=[acxy])")


def test_a_pattern_that_may_start_with_any_character_is_left_ungated() -> None:
    pattern = re.compile(r"\w+ing|x")
    assert gated(pattern) is pattern
    assert gated(re.compile(r"a?")).pattern == "a?"


def test_a_word_start_gate_keeps_stretched_words_whole() -> None:
    pattern = gated(re.compile(r"(?<![^\W_])(?:" + stretched("shit") + ")"), word_start=True)
    assert pattern.search("sh!!iiit happens") is not None
    assert pattern.search("bullshit") is None


def test_normalise_keeps_every_index_even_where_lower_casing_would_lengthen_the_text() -> None:
    text = "İstanbul DÖNER Ärger"
    assert len(normalise(text)) == len(text)
    assert normalise(text)[1:] == "stanbul döner ärger"
    assert normalise("KILL") == "kill"


@pytest.mark.parametrize(
    ("text", "subtype"),
    [
        ("mitt nummer er 91234567", "phone"),  # 8 digits, the fewest a phone holds
        ("NI number AB 12 34 56 C", "national_id"),  # 6 digits
        ("ahmed dot k at gmail dot com", "email"),  # no digit at all
        ("card 4111 1111 1111 1111 please", "payment_card"),
    ],
)
def test_pii_with_the_fewest_digits_of_its_kind_is_still_found(text: str, subtype: str) -> None:
    assert subtype in {m.rule.subtype for m in pii.find_pii(text)}


def test_a_text_with_too_few_digits_for_any_number_raises_no_pii() -> None:
    assert pii.find_pii("room 12, floor 3, table 45") == []


def test_an_address_without_a_known_top_level_domain_is_not_tried_as_an_obfuscated_one() -> None:
    assert pii.find_pii("we met at the cafe at noon") == []


def test_repeated_words_are_whole_words() -> None:
    assert spam._REPEATED_WORD.search("buy buy buy buy now") is not None
    assert spam._REPEATED_WORD.search("ab abc abd abe abf") is None


def test_screening_with_one_normalised_copy_finds_what_each_rule_finds_alone() -> None:
    text = "SH1T, I know where you live. Call +47 912 34 567 or mail ahmed dot k at gmail dot com"
    findings = screen(text).findings
    assert {FindingType.PROFANITY, FindingType.TOXIC, FindingType.PII} <= {f.type for f in findings}
    assert "[PHONE]" in screen(text).redacted_text
    assert "[EMAIL]" in screen(text).redacted_text


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("earn 100kr a day", "100kr"),
        ("earn 100 kroner a day", "100 kr"),  # the first listed currency that fits
        ("$300 per day", "$300 "),
        ("5 000 000 NOK", "5 000 000 NOK"),
        ("room 12 and 14", None),
    ],
)
def test_an_amount_takes_its_digits_whole_and_still_finds_the_currency(text: str, amount: str | None) -> None:
    found = spam._AMOUNT.search(text)
    assert (found.group(0) if found else None) == amount


def test_every_pii_span_found_in_the_labelled_sets_is_gone_from_the_stored_text() -> None:
    checked = 0
    for path in evaluate.SETS.values():
        for case in evaluate.load(path):
            screening = screen(case.text)
            for finding in screening.findings:
                if finding.type is FindingType.PII:
                    for span in finding.spans:
                        assert span.text not in screening.redacted_text, case.case_id
                        checked += 1
    assert checked >= 60
