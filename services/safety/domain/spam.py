"""Spam rules: repeated links, ALL-CAPS sales shouting, repeated characters or words, known spam phrases."""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.safety.domain import lexicon_scam as scam
from services.safety.domain import wordlists as words
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.obfuscation import APOSTROPHES, gated, normalise, phrase_pattern

HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW


def _rule(name: str, subtype: str, confidence: Confidence, reason: str) -> Rule:
    return Rule(f"spam.{name}", FindingType.SPAM, subtype, confidence, reason)


LINKS_MANY = _rule("links_many", "links", HIGH, "three or more links")
LINK_REPEATED = _rule("link_repeated", "links", MEDIUM, "the same link more than once")
LINKS_TWO = _rule("links_two", "links", LOW, "two different links")
SHOUTING_MONEY = _rule("shouting_money", "shouting", HIGH, "ALL-CAPS shouting with money words")
SHOUTING_URGENCY = _rule("shouting_urgency", "shouting", MEDIUM, "ALL-CAPS shouting with urgency words")
SHOUTING = _rule("shouting", "shouting", LOW, "ALL-CAPS shouting")
REPEATED_WORDS = _rule("repeated_words", "repetition", MEDIUM, "the same word four or more times in a row")
REPEATED_CHARACTERS = _rule("repeated_characters", "repetition", LOW, "one character ten or more times in a row")
PHRASES_MANY = _rule("phrases_many", "phrase", HIGH, "two or more different known spam phrases")
PHRASE = _rule("phrase", "phrase", MEDIUM, "a known spam phrase")
SCAM_LINK = _rule("scam_link", "scam", HIGH, "a link together with money, prize or investment words")
SCAM_EARNINGS = _rule("scam_earnings", "scam", MEDIUM, "an amount of money promised per day, from home or guaranteed")
SCAM_CONTACT = _rule("scam_contact", "scam", MEDIUM, "money or investment words with a request to move to a messenger")

_SHORTENERS = "|".join(re.escape(host) for host in words.LINK_SHORTENERS)
_LINK = re.compile(rf"(?<![\w@])(?:https?://|www\.|(?:{_SHORTENERS})/)[^\s<>\"']+", re.IGNORECASE)
_LINK_TAIL = ".,;:!?)]}'\""
_CAPS_WORD = rf"[A-Z]+(?:[{APOSTROPHES}][A-Z]+)?"
_CAPS_RUN = re.compile(rf"(?<![^\W_]){_CAPS_WORD}(?:[^A-Za-z{APOSTROPHES}]+{_CAPS_WORD}){{2,}}(?![^\W_])")
_MIN_SHOUTED_LETTERS = 12
# The word is taken whole (possessive): it must be followed by a non-word character anyway.
_REPEATED_WORD = re.compile(r"(?<![^\W_])([^\W_]{2,}+)(?:[\W_]+\1){3,}(?![^\W_])", re.IGNORECASE)
_REPEATED_CHARACTER = re.compile(r"([^\W\d_]|[!?$€£])\1{9,}")
_MONEY = re.compile(
    r"(?<![^\W_])(?:" + "|".join(words.MONEY_WORDS) + r")(?![^\W_])|" + "|".join(map(re.escape, words.MONEY_SYMBOLS)),
    re.IGNORECASE,
)
_URGENCY = re.compile(r"(?<![^\W_])(?:" + "|".join(words.URGENCY_WORDS) + r")(?![^\W_])", re.IGNORECASE)
_AMOUNT = gated(re.compile(scam.AMOUNT, re.IGNORECASE))
_MONEY_CUE = gated(re.compile(scam.MONEY_CUES, re.IGNORECASE))
_EASY_MONEY = gated(re.compile(scam.EASY_MONEY, re.IGNORECASE))
_CONTACT = gated(re.compile(scam.CONTACT_CUES, re.IGNORECASE))
# All spam phrases in one pattern, each in its own group: `lastindex` names the phrase that matched.
_SPAM_PHRASES = gated(
    re.compile("|".join(f"({phrase_pattern(p).pattern})" for p in words.SPAM_PHRASES)), word_start=True
)
_DIGIT = re.compile(r"\d")


def find_spam(text: str, normalised: str | None = None) -> list[Match]:
    """Every spam match (`normalised` is `normalise(text)` where the caller already has it)."""
    links = [_trim_link(text, m) for m in _LINK.finditer(text)]
    phrases = _phrases(text, normalise(text) if normalised is None else normalised)
    return [*_links(links), *_shouting(text), *_repetition(text), *phrases, *_scam(text, links)]


def _links(spans: list[Span]) -> Iterator[Match]:
    if len(spans) >= 3:
        rule = LINKS_MANY
    elif len(spans) == 2:
        rule = LINK_REPEATED if spans[0].text.lower() == spans[1].text.lower() else LINKS_TWO
    else:
        return
    for span in spans:
        yield Match(rule, span)


def _trim_link(text: str, m: re.Match[str]) -> Span:
    # Sentence punctuation right after a link is not part of it.
    end = m.start() + len(m.group(0).rstrip(_LINK_TAIL))
    return Span(m.start(), end, text[m.start() : end])


def _shouting(text: str) -> Iterator[Match]:
    for m in _CAPS_RUN.finditer(text):
        shouted = m.group(0)
        if sum(ch.isalpha() for ch in shouted) < _MIN_SHOUTED_LETTERS:
            continue
        if _MONEY.search(shouted):
            rule = SHOUTING_MONEY
        elif _URGENCY.search(shouted):
            rule = SHOUTING_URGENCY
        else:
            rule = SHOUTING
        yield Match(rule, Span(m.start(), m.end(), shouted))


def _repetition(text: str) -> Iterator[Match]:
    for m in _REPEATED_WORD.finditer(text):
        yield Match(REPEATED_WORDS, Span(m.start(), m.end(), m.group(0)))
    for m in _REPEATED_CHARACTER.finditer(text):
        yield Match(REPEATED_CHARACTERS, Span(m.start(), m.end(), m.group(0)))


def _phrases(text: str, normalised: str) -> list[Match]:
    found = list(_SPAM_PHRASES.finditer(normalised))
    if not found:
        return []
    rule = PHRASES_MANY if len({m.lastindex for m in found}) >= 2 else PHRASE
    return [Match(rule, Span(m.start(), m.end(), text[m.start() : m.end()])) for m in found]


def _scam(text: str, links: list[Span]) -> Iterator[Match]:
    # Every amount has a digit: without one, the amount patterns are not tried.
    amount = _AMOUNT.search(text) if _DIGIT.search(text) else None
    if links and (amount or _MONEY_CUE.search(text)):
        yield from (Match(SCAM_LINK, span) for span in links)
        return
    easy = _EASY_MONEY.search(text) if amount else None
    if amount and easy:
        start, end = min(amount.start(), easy.start()), max(amount.end(), easy.end())
        yield Match(SCAM_EARNINGS, Span(start, end, text[start:end]))
        return
    contact = _CONTACT.search(text)
    if contact and (amount or _MONEY_CUE.search(text)):
        yield Match(SCAM_CONTACT, Span(contact.start(), contact.end(), contact.group(0)))
