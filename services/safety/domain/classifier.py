"""Safety's trained classifier: one logistic regression per label over a text's words, pairs and character runs.

The rules name what they know; the classifier catches what they do not list (a wish to die in words no pattern
has, a scam without a listed phrase). It is read from `services/safety/model/` without pickle: a manifest, the
vocabulary as JSON and the arrays as .npz, every file checked against the manifest's SHA-256, so an altered or
half-copied model is refused instead of screening with the wrong weights. `python -m services.safety.train`
builds it from the corpus in `services/safety/train/`.

A text's features are its words, its word pairs and the character sequences inside its words, weighted by their
inverse document frequency (`LinearClassifier` says how a text's vector is built and scaled); the same functions
build them when training and when screening. Words are read lower-cased with Latin diacritics folded ("zyc" and
"żyć" are one word) and digits as 0.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.kit.ml import manifest as kit_manifest
from services.kit.ml.manifest import Kind, Manifest
from services.safety.domain.errors import ClassifierArtifactInvalid
from services.safety.domain.findings import Span

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
VOCABULARY, WEIGHTS = "vocabulary.json", "weights.npz"
FORMAT = "safety-linear/2"
# Bumped whenever `word_features` or `features` change: a model is only read by the features it was trained with.
FEATURES_VERSION = "chars-words-pairs/1"
LABELS = ("self_harm", "spam", "toxic")
_ARRAYS = ("idf", "weights", "bias")
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
# Where a sentence ends: the span of a classifier finding is the sentence that moved it most.
_SENTENCE_END = re.compile(r"[.!?;\n؟。…]+")
# The lengths of the character sequences read inside each word (with a space before and after it), which carry
# word forms and misspellings the whole word does not: "umbringen" and "umzubringen" share "mbrin", "bringe".
CHARACTERS = (3, 4, 5)
_WORD_CACHE = 100_000

FloatArray = npt.NDArray[np.float32]


def words(folded: str) -> list[str]:
    """The words of a lower-cased, diacritic-folded text; every digit read as 0."""
    return _WORD.findall(_DIGIT.sub("0", folded) if _DIGIT.search(folded) is not None else folded)


def places(folded: str) -> list[tuple[int, int]]:
    """Where each of `words(folded)` stands (digits are one character for one: the places hold for the text)."""
    return [m.span() for m in _WORD.finditer(folded)]


def word_features(word: str) -> tuple[str, ...]:
    """What one word gives by itself: the word and its character sequences."""
    padded = f" {word} "
    grams = {f"c:{padded[i : i + n]}" for n in CHARACTERS for i in range(max(1, len(padded) - n + 1))}
    return (f"w:{word}", *sorted(grams))


def features(found: Sequence[str]) -> list[tuple[int, str]]:
    """Every feature of a text with the word that gave it (a pair belongs to its second word); a feature given by
    two words is listed twice."""
    out: list[tuple[int, str]] = []
    previous = ""
    for i, word in enumerate(found):
        out += [(i, f) for f in word_features(word)]
        if previous:
            out.append((i, f"b:{previous} {word}"))
        previous = word
    return out


@dataclass(frozen=True)
class Detection:
    """One label the classifier found in a text: its probability and the sentence that moved it most."""

    label: str
    probability: float
    span: Span


# What one word (or known pair) adds to a text: the square of its own length, then per label its weighted sum.
_Word = tuple[float, ...]


@dataclass(frozen=True)
class LinearClassifier:
    """Per-label weights over a vocabulary of features and each feature's IDF; a label is found at or above its
    threshold.

    A text's vector is the sum of its words' vectors (each word: its known features, once each, valued by their
    IDF) and of its known word pairs, divided by the square root of the summed squared lengths of those parts.
    That scale is the vector's length when no two words share a feature, and, unlike it, lets each word's part be
    computed once per process: screening a text costs a lookup per word, not one per feature.
    """

    labels: tuple[str, ...]
    index: dict[str, int]
    idf: FloatArray  # (features,)
    weights: FloatArray  # (features, labels)
    bias: FloatArray  # (labels,)
    thresholds: FloatArray  # (labels,)
    # The part of each word and known pair met so far (a process screens the same words over and over).
    _words: dict[str, _Word] = field(default_factory=dict, repr=False, compare=False)
    _bias: list[float] = field(default_factory=list, repr=False, compare=False)
    _thresholds: list[float] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Python floats: comparing with numpy scalars costs more than the rest of a short text's arithmetic.
        self._bias.extend(self.bias.tolist())
        self._thresholds.extend(self.thresholds.tolist())

    def logits(self, folded: str) -> list[float]:
        """Each label's logit for one lower-cased, folded text."""
        return self._logits(self._parts(words(folded)))

    def probabilities(self, folded: str) -> list[float]:
        """Each label's probability for one lower-cased, folded text."""
        return [_sigmoid(logit) for logit in self.logits(folded)]

    def find(self, text: str, folded: str) -> list[Detection]:
        """The labels at or above their thresholds, each with the sentence of `text` that moved it most."""
        found = words(folded)
        parts = self._parts(found)
        logits = self._logits(parts)
        detections = []
        for j, label in enumerate(self.labels):
            probability = _sigmoid(logits[j])
            if probability >= self._thresholds[j]:
                detections.append(Detection(label, probability, _sentence(text, places(folded), _strongest(parts, j))))
        return detections

    def _parts(self, found: Sequence[str]) -> list[tuple[int, _Word]]:
        """(word, part) of every word and of every known pair (a pair is its second word's)."""
        cache = self._words
        parts: list[tuple[int, _Word]] = []
        previous = ""
        for i, word in enumerate(found):
            part = cache.get(word)
            if part is None:
                part = self._part(word_features(word))
                if len(cache) < _WORD_CACHE:
                    cache[word] = part
            parts.append((i, part))
            if previous:
                pair = f"b:{previous} {word}"
                known = cache.get(pair)
                if known is None:
                    # Most pairs are unknown: remembered as (), so the vocabulary is asked once per pair.
                    known = self._part((pair,)) if pair in self.index else ()
                    if len(cache) < _WORD_CACHE:
                        cache[pair] = known  # a pair's key has a colon: it never equals a word
                if known:
                    parts.append((i, known))
            previous = word
        return parts

    def _part(self, listed: Sequence[str]) -> _Word:
        columns = [j for f in listed if (j := self.index.get(f)) is not None]
        idf = self.idf[columns]
        sums = (self.weights[columns] * idf[:, None]).sum(axis=0) if columns else np.zeros(len(self.labels))
        return (float(np.dot(idf, idf)), *(float(x) for x in sums))

    def _logits(self, parts: Sequence[tuple[int, _Word]]) -> list[float]:
        if not parts:
            return list(self._bias)
        square, *totals = (sum(column) for column in zip(*(part for _, part in parts), strict=True))
        scale = 1.0 / math.sqrt(square) if square else 0.0
        return [b + t * scale for b, t in zip(self._bias, totals, strict=True)]


def _strongest(parts: Sequence[tuple[int, _Word]], label: int) -> int:
    """The word whose parts add most to the label (the first of equals); 0 for a text without words."""
    moved: dict[int, float] = {}
    for word, part in parts:
        moved[word] = moved.get(word, 0.0) + part[1 + label]
    return max(moved, key=lambda w: (moved[w], -w)) if moved else 0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _sentence(text: str, found: Sequence[tuple[int, int]], word: int) -> Span:
    """The sentence of `text` around the `word`-th word (the whole text when it has no words)."""
    if not found:
        return Span(0, len(text), text)
    at, after = found[word]
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, at)), default=0)
    end_match = _SENTENCE_END.search(text, after)
    end = end_match.start() if end_match is not None else len(text)
    while start < end and text[start].isspace():
        start += 1
    return Span(start, end, text[start:end])


KIND = Kind(FORMAT, FEATURES_VERSION, LABELS, ClassifierArtifactInvalid)


def read_manifest(directory: Path = MODEL_DIR) -> Manifest:
    """The manifest in `directory`; ClassifierArtifactInvalid when it is missing or of another format."""
    return kit_manifest.read_manifest(directory, KIND)


def load(directory: Path = MODEL_DIR) -> tuple[Manifest, LinearClassifier]:
    """The model in `directory`, its files checked against the manifest's hashes; arrays never unpickled."""
    manifest = read_manifest(directory)
    manifest.check_files(directory, (VOCABULARY, WEIGHTS))
    vocabulary = json.loads((directory / VOCABULARY).read_text(encoding="utf-8"))
    with np.load(directory / WEIGHTS, allow_pickle=False) as arrays:
        idf, weights, bias = (np.asarray(arrays[name], dtype=np.float32) for name in _ARRAYS)
    shapes = (idf.shape, weights.shape, bias.shape)
    if shapes != ((len(vocabulary),), (len(vocabulary), len(LABELS)), (len(LABELS),)):
        raise ClassifierArtifactInvalid("the model's arrays do not match its vocabulary and labels")
    thresholds = np.asarray([manifest.thresholds[label] for label in LABELS], dtype=np.float32)
    index = {feature: j for j, feature in enumerate(vocabulary)}
    return manifest, LinearClassifier(LABELS, index, idf, weights, bias, thresholds)


@cache
def shipped() -> tuple[Manifest, LinearClassifier]:
    """The model shipped in `services/safety/model/`, read once per process."""
    return load(MODEL_DIR)
