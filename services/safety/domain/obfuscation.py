"""Obfuscation-tolerant matching: a same-length normalised copy of the text and patterns for listed words.

The normalised copy keeps every character at its index, so a match in it is a span of the
original text. Patterns accept case changes, leetspeak (f4ck, sh!t, a$$), stretched letters
(fuuuck), masking stars (f*ck) and letters spaced out with one repeated separator (f.u.c.k),
and only match between word boundaries, so "class" and "Scunthorpe" stay clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import groupby
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

# Leet characters each letter may be written as.
_LEET: dict[str, str] = {
    "a": "4@",
    "b": "8",
    "e": "3",
    "g": "9",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
}
# Inside a word any of these may stand for any vowel (f4ck, sh1t, b!tch).
_VOWEL_STANDINS = "4@3!1|"
_VOWELS = "aeiouy"
_BOUNDARY_BEFORE = r"(?<![^\W_])"
_BOUNDARY_AFTER = r"(?![^\W_])"
_SPACED_SEPARATORS = r"[ ._\-~+]"
PHRASE_GAP = r"[\W_]{1,5}"
APOSTROPHES = "'\u2019"


def normalise(text: str) -> str:
    """Lower-cased character by character, so every index still points at the same character of `text`."""
    lowered = text.lower()
    if len(lowered) == len(text):
        # No character lower-cases to more than one (none lower-cases to none): the indices line up. Only the
        # Greek final sigma is cased by context here, which no pattern lists.
        return lowered
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _letter(ch: str, *, inner: bool = False) -> str:
    allowed = ch + _LEET.get(ch, "")
    if inner and ch in _VOWELS:
        allowed += _VOWEL_STANDINS
    allowed = "".join(dict.fromkeys(allowed))
    return f"[{re.escape(allowed)}]" if len(allowed) > 1 else re.escape(ch)


def _run(ch: str, count: int, *, inner: bool) -> str:
    """A run of `count` equal letters, stretched at will; inside a word also masked by as many stars."""
    letters = f"{_letter(ch, inner=inner)}{{{count},}}+"
    return f"(?:{letters}|\\*{{{count}}})" if inner else letters


def stretched(word: str) -> str:
    """A word with stretchable letters and stars allowed for every letter but the first and last."""
    runs = [(ch, len(list(group))) for ch, group in groupby(word)]
    parts: list[str] = []
    for index, (ch, count) in enumerate(runs):
        if not ch.isalpha():
            parts.append(_non_letter(ch) * count)
        else:
            parts.append(_run(ch, count, inner=0 < index < len(runs) - 1))
    return "".join(parts)


def _non_letter(ch: str) -> str:
    if ch == " ":
        return PHRASE_GAP
    if ch in APOSTROPHES:
        return f"[{APOSTROPHES}]?"
    return re.escape(ch)


def spaced(word: str, group: str) -> str:
    """A word spelt out letter by letter with one repeated separator: f.u.c.k, s h i t."""
    letters = [_letter(ch) for ch in word if ch.isalpha()]
    separator = f"(?P<{group}>{_SPACED_SEPARATORS})"
    return letters[0] + separator + f"(?P={group})".join(letters[1:])


def word_pattern(words: Sequence[str], suffixes: Sequence[str], *, embedded: Iterable[str] = ()) -> re.Pattern[str]:
    """Listed words (optionally suffixed) on word boundaries, spaced-out spellings, and embedded roots."""
    suffix = "(?:" + "|".join(stretched(s) for s in sorted(suffixes, key=len, reverse=True)) + ")?"
    plain = "|".join(stretched(w) for w in sorted(words, key=len, reverse=True))
    spelt = "|".join(spaced(w, f"sep{i}") for i, w in enumerate(words) if len(w) > 2)
    alternatives = [f"{_BOUNDARY_BEFORE}(?:{plain}){suffix}{_BOUNDARY_AFTER}"]
    alternatives.append(f"{_BOUNDARY_BEFORE}(?:{spelt}){_BOUNDARY_AFTER}")
    inner = [stretched(root) for root in embedded]
    if inner:
        # Lazy prefix from a word start, possessive rest: linear in the word's length.
        alternatives.append(f"{_BOUNDARY_BEFORE}[^\\W_]*?(?:{'|'.join(inner)})[^\\W_]*+")
    return re.compile("|".join(alternatives))


def phrase_pattern(slots: Sequence[Sequence[str]]) -> re.Pattern[str]:
    """A phrase of slots (alternative words each; "" makes a slot optional) on word boundaries."""
    parts = [_slot(slot, first=index == 0) for index, slot in enumerate(slots)]
    return re.compile(_BOUNDARY_BEFORE + "".join(parts) + _BOUNDARY_AFTER)


def _slot(slot: Sequence[str], *, first: bool) -> str:
    options = [w for w in slot if w]
    alternatives = []
    for word in sorted(options, key=len, reverse=True):
        attached = word.startswith("'") or first
        alternatives.append(("" if attached else PHRASE_GAP) + stretched(word))
    body = "(?:" + "|".join(alternatives) + ")"
    return body + "?" if "" in slot else body


def gated(pattern: re.Pattern[str], *, word_start: bool = False) -> re.Pattern[str]:
    """The same pattern behind a look-ahead for the characters a match can start with.

    The regular-expression engine tries every alternative of a long word list at every position; the
    look-ahead refuses most positions with one character test. Matches are exactly those of `pattern`.
    `word_start` says that every alternative of `pattern` starts on a word boundary (as those of
    word_pattern and phrase_pattern do), so the boundary is tested once, before any alternative.
    """
    try:
        first = _first_characters(_parser.parse(pattern.pattern, pattern.flags).data)
    except (re.error, TypeError, ValueError, AttributeError):  # pragma: no cover - parser internals changed
        first = None
    # The character test first: it refuses most positions more cheaply than the look-behind.
    gate = _lookahead(first) if first else ""
    if word_start:
        gate += _BOUNDARY_BEFORE
    return re.compile(f"{gate}(?:{pattern.pattern})", pattern.flags) if gate else pattern


def gated_knowing(pattern: str, first: set[str] | None) -> re.Pattern[str]:
    """`pattern` compiled as `gated` compiles it, for a caller that knows already the characters a match can
    start with (`first`, as first_characters gives them; None: any): the pattern is parsed once, to compile
    it, rather than three times (a long word list takes most of a second)."""
    return re.compile(f"{_lookahead(first)}(?:{pattern})") if first else re.compile(pattern)


_MAX_RANGE = 512


def first_characters(pattern: str) -> set[str] | None:
    """The characters a match of `pattern` can start with (as in gated); None when unknown or any."""
    try:
        return _first_characters(_parser.parse(pattern).data)
    except (re.error, TypeError, ValueError, AttributeError):  # pragma: no cover - parser internals changed
        return None


def _first_characters(items: Any) -> set[str] | None:
    """The characters a match of the parsed items can start with, as pieces of a character class (characters,
    \\d, \\s); None when any character may start it."""
    optional: set[str] = set()  # first characters of optional items passed on the way
    for op, av in items:
        if op in (_constants.AT, _constants.ASSERT, _constants.ASSERT_NOT):
            continue  # zero-width: the first character is a later item's
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT) and av[0] == 0:
            skipped = _first_characters(av[2].data)
            if skipped is None:
                return None
            optional |= skipped
            continue
        first = _first_of_item(op, av)
        return None if first is None else first | optional
    return None


def _first_of_item(op: Any, av: Any) -> set[str] | None:
    """The characters one parsed item (neither optional nor zero-width) can start with; None when unbounded."""
    if op is _constants.LITERAL:
        first: set[str] | None = {chr(av)}
    elif op is _constants.IN:
        first = _charset(av)
    elif op is _constants.SUBPATTERN:
        first = _first_characters(av[3].data)
    elif op is _constants.ATOMIC_GROUP:
        first = _first_characters(av.data)
    elif op is _constants.BRANCH:
        alternatives = [_first_characters(alternative.data) for alternative in av[1]]
        first = None if any(a is None for a in alternatives) else set().union(*(a for a in alternatives if a))
    elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
        first = _first_characters(av[2].data)
    else:
        first = None
    return first


_CATEGORIES = {_constants.CATEGORY_DIGIT: r"\d", _constants.CATEGORY_SPACE: r"\s"}


def _charset(items: Any) -> set[str] | None:
    """A character class as the pieces of a new one (characters, \\d, \\s); None for a negated or wide one."""
    pieces: set[str] = set()
    for op, av in items:
        if op is _constants.LITERAL:
            pieces.add(chr(av))
        elif op is _constants.RANGE and av[1] - av[0] <= _MAX_RANGE:
            pieces.update(chr(code) for code in range(av[0], av[1] + 1))
        elif op is _constants.CATEGORY and av in _CATEGORIES:
            pieces.add(_CATEGORIES[av])
        else:
            return None
    return pieces


def _lookahead(first: set[str]) -> str:
    return "(?=[" + "".join(piece if len(piece) > 1 else re.escape(piece) for piece in sorted(first)) + "])"
