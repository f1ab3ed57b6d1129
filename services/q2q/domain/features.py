"""Text to model features: tokens with offsets into the original text, negation scope, word and character n-grams.

Training (`services.q2q.train`) and the trained classifier both use this module, so a model always sees
the features it was trained on. Negation scope is a rule (the words after a negator, up to the end of
the clause, are marked), and the model learns what a marked word means: "not lonely" shares no feature
with "lonely" except the negator itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

FEATURES_VERSION = "f1"
CHAR_NGRAMS = (3, 4, 5)
NEGATION_REACH = 4
# Letters and digits with inner apostrophes ("don't", "sor'jazlyva"), or one emoji.
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n()\u061f\u060c\u061b]")
_WORD_OR_BREAK = re.compile(f"({_TOKEN.pattern})|{_CLAUSE_BREAK.pattern}")
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ł": "l", "đ": "d", "\u0629": "\u0647", "\u0649": "\u064a",
                       "\u0640": None, "\u2019": "'", "ß": "ss"})  # fmt: skip
# Negators of the nine languages, as normalise_token spells them (no diacritics, casefolded).
NEGATORS = frozenset(
    {
        # en
        "not", "no", "never", "nobody", "nothing", "cannot", "cant", "dont", "doesnt", "didnt", "isnt",
        "wasnt", "arent", "werent", "wont", "couldnt", "havent", "hasnt", "hardly", "barely", "without",
        # nb, da, sv
        "ikke", "ik", "ikkje", "ingen", "aldri", "aldrig", "ingenting", "uten", "uden", "inte", "ej", "utan",
        # de
        "nicht", "nich", "kein", "keine", "keinen", "keiner", "keinem", "nie", "niemals", "nichts", "ohne",
        # pl (nie is shared with de)
        "nigdy", "zaden", "zadnego", "bez", "ani",
        # es
        "nunca", "jamas", "ni", "nada", "sin", "tampoco",
        # uk
        "не", "ні", "ніколи", "без", "жодного", "жоден", "нема", "немає",
        # ar
        "لا", "لم", "لن", "ما", "ليس", "لست", "ليست", "غير", "بدون", "مش", "مو",
    }
)  # fmt: skip


# Words that end a negation's reach without ending the clause: "and", "but", "because" in the nine languages.
SCOPE_BREAKERS = frozenset(
    {"and", "but", "because", "og", "men", "fordi", "och", "eftersom", "und", "aber", "weil", "sondern", "ale", "bo",
     "y", "pero", "porque", "та", "але", "бо", "тому", "لكن", "لان"}  # noqa: RUF001 - Ukrainian words
)  # fmt: skip


class Token(NamedTuple):
    """One word of a text: its span in the original text, its normalised form, and whether a negator governs it."""

    start: int
    end: int
    norm: str
    negated: bool
    clause: int


# Token's fields in order, without the keyword handling of Token(...): tokenising makes one per word.
_new_token = tuple.__new__


def normalise_token(raw: str) -> str:
    """Casefolded, without diacritics or Arabic vowel marks, Nordic and Polish letters folded to ASCII."""
    return _normalise(raw)


@lru_cache(maxsize=65536)
def _normalise(raw: str) -> str:
    decomposed = unicodedata.normalize("NFKD", raw.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.translate(_FOLD)).replace("'", "")


_AUXILIARIES = frozenset({"do", "does", "did", "is", "was", "are", "were", "could", "would", "should", "have", "has",
                          "had", "wo", "ca", "must", "need", "ai"})  # fmt: skip


@lru_cache(maxsize=65536)
def _word(raw: str) -> tuple[str, bool, bool]:
    norm = _normalise(raw)
    return norm, is_negator(norm), norm in SCOPE_BREAKERS


def is_negator(norm: str) -> bool:
    """Whether a normalised token negates what follows it ("don't" is normalised to "dont")."""
    return norm in NEGATORS or (norm.endswith("nt") and norm[:-2] in _AUXILIARIES)


def tokens(text: str) -> list[Token]:
    """The words of `text` in order, each with its clause number and negation mark."""
    out: list[Token] = []
    append = out.append
    clause, reach, broken = 0, 0, False
    # One pass over words and clause breaks (no character is both): any break before a word starts a clause.
    for match in _WORD_OR_BREAK.finditer(text):
        raw = match.group(1)
        if raw is None:
            broken = True
            continue
        if broken:
            clause, reach, broken = clause + 1, 0, False
        norm, negator, breaker = _word(raw)
        if breaker:
            reach = 0
        append(_new_token(Token, (match.start(), match.end(), norm, reach > 0 and not negator, clause)))
        reach = NEGATION_REACH if negator else (reach - 1 if reach > 0 else 0)
    return out


@lru_cache(maxsize=65536)
def word_features(norm: str, negated: bool) -> tuple[str, ...]:
    """The features one word emits by itself: the word and its character n-grams, marked when negated."""
    word, chars = ("W", "C") if negated else ("w", "c")
    padded = f"<{norm}>"
    grams = {padded[i : i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)}
    return (f"{word}:{norm}", *(f"{chars}:{gram}" for gram in sorted(grams)))


def bigram(left: Token, right: Token) -> str | None:
    """The word-pair feature of two neighbouring words of one clause."""
    return f"b:{left.norm} {right.norm}" if left.clause == right.clause else None


def token_features(words: list[Token]) -> Iterator[tuple[int, str]]:
    """(token index, feature) for every feature of a tokenised text; a word pair belongs to its second word."""
    for index, token in enumerate(words):
        for feature in word_features(token.norm, token.negated):
            yield index, feature
        if index:
            pair = bigram(words[index - 1], token)
            if pair is not None:
                yield index, pair
