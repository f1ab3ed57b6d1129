"""Check digits, redaction offsets, verdict thresholds and the text limits of the screening engine."""

from __future__ import annotations

import time

import pytest

from services.safety.domain import checksums
from services.safety.domain.errors import InvalidScreening
from services.safety.domain.findings import Confidence, Finding, FindingType, Span, redact, verdict
from services.safety.domain.screening import MAX_TEXT_LENGTH, screen


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("378282246310005", True), ("4111111111111112", False), ("0000000000000", False)],
)
def test_card_numbers_need_13_to_19_digits_and_luhn(digits: str, valid: bool) -> None:
    assert checksums.is_card_number(digits) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("15038542270", True),  # both mod-11 digits right
        ("15038542271", False),  # second check digit wrong
        ("15038542370", False),  # first check digit wrong
        ("55038510184", True),  # D-number: day 15 + 40
        ("32038542270", False),  # no 32nd day
    ],
)
def test_fodselsnummer_checks_date_and_both_check_digits(digits: str, valid: bool) -> None:
    assert checksums.fodselsnummer_valid(digits) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("8112189876", True),
        ("198112189876", True),
        ("8112189875", False),
        ("8113189876", False),
        ("178112189876", False),
    ],
)
def test_personnummer_checks_date_century_and_luhn(digits: str, valid: bool) -> None:
    assert checksums.personnummer_valid(digits) is valid


def test_redaction_replaces_every_pii_span_with_its_placeholder() -> None:
    text = "Mail ada@example.org, card 4111 1111 1111 1111, call +47 912 34 567, fnr 15038542270."
    result = screen(text)
    assert result.redacted_text == "Mail [EMAIL], card [CARD], call [PHONE], fnr [NATIONAL_ID]."
    assert "ada@example.org" not in result.redacted_text


def test_redaction_keeps_non_pii_text_and_offsets_of_adjacent_spans() -> None:
    pii = FindingType.PII
    findings = [
        Finding(pii, "email", Confidence.HIGH, "r", (Span(0, 3), Span(8, 10))),
        Finding(pii, "phone", Confidence.HIGH, "r", (Span(3, 5),)),
        Finding(FindingType.PROFANITY, "profanity", Confidence.HIGH, "r", (Span(5, 8),)),
    ]
    assert redact("aaabbcccdd!", findings) == "[EMAIL][PHONE]ccc[EMAIL]!"


def test_overlapping_pii_spans_are_redacted_once() -> None:
    findings = [Finding(FindingType.PII, "phone", Confidence.MEDIUM, "r", (Span(2, 6), Span(4, 8)))]
    assert redact("0123456789", findings) == "01[PHONE]89"


def _finding(kind: FindingType, confidence: Confidence) -> Finding:
    return Finding(kind, "x", confidence, "r", (Span(0, 1),))


@pytest.mark.parametrize(
    ("kind", "confidence", "unsafe", "review"),
    [
        (FindingType.PROFANITY, Confidence.LOW, False, False),
        (FindingType.PROFANITY, Confidence.MEDIUM, True, False),
        (FindingType.PROFANITY, Confidence.HIGH, True, True),
        (FindingType.TOXIC, Confidence.LOW, False, False),
        (FindingType.TOXIC, Confidence.MEDIUM, True, True),
        (FindingType.SPAM, Confidence.MEDIUM, True, False),
        (FindingType.SPAM, Confidence.HIGH, True, False),
        (FindingType.PII, Confidence.MEDIUM, False, False),
        (FindingType.PII, Confidence.HIGH, False, True),
    ],
)
def test_thresholds_follow_the_domain_rules(
    kind: FindingType, confidence: Confidence, unsafe: bool, review: bool
) -> None:
    result = verdict([_finding(kind, confidence)])
    assert (result.is_unsafe, result.requires_review) == (unsafe, review)
    assert result.redacted is (kind is FindingType.PII)


def test_no_findings_is_safe() -> None:
    assert verdict([]) == verdict(screen("All good here.").findings)
    assert not verdict([]).is_unsafe


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_invalid(text: str) -> None:
    with pytest.raises(InvalidScreening) as caught:
        screen(text)
    assert [v.field for v in caught.value.violations] == ["text"]


def test_text_over_the_limit_is_invalid_naming_the_field() -> None:
    screen("a" * MAX_TEXT_LENGTH)
    with pytest.raises(InvalidScreening) as caught:
        screen("a" * (MAX_TEXT_LENGTH + 1), field="feedback_text")
    assert [v.field for v in caught.value.violations] == ["feedback_text"]


@pytest.mark.parametrize(
    "hostile",
    [
        "f" + "*" * 19_999,
        ("f" + "*" * 24 + " ") * 750,
        "a" * 20_000,
        ("1-" * 10_000),
        ("A " * 10_000),
        ("x@" * 10_000),
        "clusterf" * 2_500,
    ],
)
def test_worst_case_inputs_screen_quickly(hostile: str) -> None:
    started = time.perf_counter()
    screen(hostile[:MAX_TEXT_LENGTH])
    assert time.perf_counter() - started < 5.0  # linear time; catastrophic backtracking would take minutes
