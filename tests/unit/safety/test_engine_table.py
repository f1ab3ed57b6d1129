"""The screening engine against a table of labelled texts: what it must find, and what it must leave alone."""

from __future__ import annotations

import pytest

from services.safety.domain.findings import Finding
from services.safety.domain.screening import screen

PROFANITY, PII, TOXIC, SPAM = "profanity", "pii", "toxic", "spam"
Expected = set[tuple[str, str, float, tuple[str, ...]]]

# (label, text, {(type, subtype, confidence, matched texts)})
CASES: list[tuple[str, str, Expected]] = [
    # Clean texts, including words that contain listed words.
    ("clean feedback", "The session helped me a lot, thank you!", set()),
    ("scunthorpe", "I moved to Scunthorpe last year.", set()),
    ("class and assessment", "The class assessment was fair and the assistant passed it.", set()),
    (
        "embedded innocents",
        "Therapist analysis, cocktail, Dickens, Sussex, Arsenal, Matsushita, shuttlecock, hello.",
        set(),
    ),
    ("self-talk is not an insult", "I felt stupid when I could not find the words.", set()),
    ("sports boast is not a threat", "We will beat you at chess next week.", set()),
    ("going home is not xenophobia", "I want to go back to my country for a visit.", set()),
    ("a year and a date are not phones", "Since 2019, and again on 2024-01-15 at 10:30.", set()),
    ("one link is fine", "The course is at https://example.org/course.", set()),
    ("ordinary capitals", "We met at the NATO HQ and the EU office.", set()),
    # PII.
    ("email", "Write to ada.lovelace@example.org please", {(PII, "email", 0.9, ("ada.lovelace@example.org",))}),
    ("international phone", "Call me on +47 912 34 567.", {(PII, "phone", 0.9, ("+47 912 34 567",))}),
    ("00-prefixed phone", "My number is 0044 20 7946 0958", {(PII, "phone", 0.9, ("0044 20 7946 0958",))}),
    ("us phone", "call (555) 123-4567 tonight", {(PII, "phone", 0.6, ("(555) 123-4567",))}),
    ("uk national phone", "ring 020 7946 0958", {(PII, "phone", 0.6, ("020 7946 0958",))}),
    ("visa card", "card 4111 1111 1111 1111 thanks", {(PII, "payment_card", 0.9, ("4111 1111 1111 1111",))}),
    ("amex dashed", "amex 3782-822463-10005", {(PII, "payment_card", 0.9, ("3782-822463-10005",))}),
    ("mastercard bare", "use 5555555555554444", {(PII, "payment_card", 0.9, ("5555555555554444",))}),
    ("card with bad luhn", "card 4111 1111 1111 1112 thanks", set()),
    ("bare digits with bad luhn", "order 5555555555554445 shipped", set()),
    ("us ssn", "number 123-45-6789", {(PII, "national_id", 0.6, ("123-45-6789",))}),
    ("us ssn named", "my SSN is 123-45-6789", {(PII, "national_id", 0.9, ("123-45-6789",))}),
    ("us ssn impossible area", "ref 666-45-6789", set()),
    ("uk nino", "NI number JG 10 37 59 A", {(PII, "national_id", 0.9, ("JG 10 37 59 A",))}),
    ("uk nino bad prefix", "code QQ123456C", set()),
    ("norwegian fnr", "fnr 15038542270 ok", {(PII, "national_id", 0.9, ("15038542270",))}),
    ("norwegian fnr spaced", "fnr 150385 42270", {(PII, "national_id", 0.9, ("150385 42270",))}),
    ("norwegian fnr bad check digit", "fnr 15038542271 ok", set()),
    ("swedish personnummer", "pnr 811218-9876", {(PII, "national_id", 0.9, ("811218-9876",))}),
    ("swedish personnummer long", "pnr 198112189876", {(PII, "national_id", 0.9, ("198112189876",))}),
    ("swedish personnummer bad luhn", "pnr 811218-9875", set()),
    # Profanity, plain and obfuscated.
    ("strong profanity", "What the fuck was that", {(PROFANITY, "profanity", 0.9, ("fuck",))}),
    ("leetspeak", "what the f4ck is this", {(PROFANITY, "profanity", 0.9, ("f4ck",))}),
    ("stars", "f**k this", {(PROFANITY, "profanity", 0.9, ("f**k",))}),
    ("separators", "F.U.C.K this", {(PROFANITY, "profanity", 0.9, ("F.U.C.K",))}),
    ("spaced", "s h i t happens", {(PROFANITY, "profanity", 0.6, ("s h i t",))}),
    ("stretched", "fuuuuuck", {(PROFANITY, "profanity", 0.9, ("fuuuuuck",))}),
    ("suffix", "FUCKING annoying", {(PROFANITY, "profanity", 0.9, ("FUCKING",))}),
    ("compound", "a total clusterfuck", {(PROFANITY, "profanity", 0.9, ("clusterfuck",))}),
    ("moderate leet", "sh!t, a$$hole", {(PROFANITY, "profanity", 0.6, ("sh!t", "a$$hole"))}),
    ("mild", "damn, that was crap", {(PROFANITY, "profanity", 0.3, ("damn", "crap"))}),
    # Toxic and hateful language.
    ("slur", "he is a faggot", {(TOXIC, "hate", 0.9, ("faggot",))}),
    ("obfuscated slur", "k1ke", {(TOXIC, "hate", 0.9, ("k1ke",))}),
    ("xenophobic", "Go back to your own country!", {(TOXIC, "hate", 0.9, ("Go back to your own country",))}),
    ("dehumanising", "refugees are all vermin", {(TOXIC, "hate", 0.9, ("refugees are all vermin",))}),
    ("threat", "I will kill you", {(TOXIC, "threat", 0.9, ("I will kill you",))}),
    ("self-harm incitement", "just kys", {(TOXIC, "threat", 0.9, ("kys",))}),
    ("directed insult", "you're such an idiot", {(TOXIC, "insult", 0.6, ("you're such an idiot",))}),
    ("undirected insult word", "the plot was for morons", {(TOXIC, "insult", 0.3, ("morons",))}),
    # Spam.
    (
        "three links",
        "see http://a.example http://b.example and www.c.example",
        {(SPAM, "links", 0.9, ("http://a.example", "http://b.example", "www.c.example"))},
    ),
    (
        "same link twice",
        "go to bit.ly/x1 now, bit.ly/x1!",
        {(SPAM, "links", 0.6, ("bit.ly/x1", "bit.ly/x1"))},
    ),
    (
        "shouting with money",
        "GET YOUR FREE CASH BONUS TODAY",
        {(SPAM, "shouting", 0.9, ("GET YOUR FREE CASH BONUS TODAY",))},
    ),
    (
        "shouting alone",
        "THIS WAS THE BEST SESSION EVER",
        {(SPAM, "shouting", 0.3, ("THIS WAS THE BEST SESSION EVER",))},
    ),
    ("repeated words", "buy buy buy buy", {(SPAM, "repetition", 0.6, ("buy buy buy buy",))}),
    ("repeated characters", "soooooooooooo good", {(SPAM, "repetition", 0.3, ("oooooooooooo",))}),
    (
        "two spam phrases",
        "Click here to claim your prize",
        {(SPAM, "phrase", 0.9, ("Click here", "claim your prize"))},
    ),
    ("one spam phrase", "no credit check needed", {(SPAM, "phrase", 0.6, ("no credit check",))}),
]


def _summary(text: str, findings: tuple[Finding, ...]) -> Expected:
    return {
        (f.type.value, f.subtype, f.confidence.value, tuple(text[s.start : s.end] for s in f.spans)) for f in findings
    }


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({label for label, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("label", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_engine_finds_exactly_what_the_label_says(label: str, text: str, expected: Expected) -> None:
    # The rules' exact findings (rule, confidence, span). The trained classifier adds findings of the types no rule
    # found; what it adds on this table is pinned below, and its figures are the evaluation's.
    result = screen(text, classify=False)
    assert _summary(text, result.findings) == expected, label


def test_the_classifier_adds_a_finding_to_one_row_of_the_table_only() -> None:
    added = {
        label: [(f.type.value, f.subtype) for f in screen(text).findings if "trained classifier" in f.reason]
        for label, text, _ in CASES
    }
    # Profanity about a thing, not a person, read as abuse: a known false alarm (docs/safety/model-card.md).
    assert {label: found for label, found in added.items() if found} == {"suffix": [("toxic", "abuse")]}


@pytest.mark.parametrize(("label", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_spans_are_the_matched_text_and_every_finding_has_a_reason(label: str, text: str, expected: Expected) -> None:
    for finding in screen(text).findings:
        assert finding.reason
        for span in finding.spans:
            assert 0 <= span.start < span.end <= len(text)
            assert span.text == text[span.start : span.end]


def test_screening_is_deterministic() -> None:
    text = "Mail a@b.org, you idiot, FREE MONEY NOW NOW NOW NOW http://x.io"
    assert screen(text) == screen(text)
