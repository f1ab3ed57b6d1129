"""The trained model's arithmetic: TF-IDF vectors of the shared features, one logistic regression per label.

Weights are plain arrays (no pickled estimator), so the model is read with `numpy.load(allow_pickle=False)`
and the same vectors are built at training and at classification time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from services.q2q.domain.features import Token, token_features, tokens, word_features

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Vocabulary:
    """Feature → column, each column's inverse document frequency, and which columns are word pairs."""

    index: Mapping[str, int]
    idf: FloatArray
    pairs: frozenset[int]
    _word_ids: dict[tuple[str, bool], tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)
    _arrays: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict, repr=False, compare=False)
    _masks: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, features: Sequence[str], idf: FloatArray) -> Vocabulary:
        """The vocabulary whose column j is `features[j]`."""
        index = {feature: j for j, feature in enumerate(features)}
        return cls(index, idf, frozenset(j for feature, j in index.items() if feature.startswith("b:")))

    @property
    def pair_columns(self) -> npt.NDArray[np.int64]:
        """The word-pair columns, sorted."""
        cached: npt.NDArray[np.int64] | None = self._arrays.get("pairs")
        if cached is None:
            cached = self._arrays["pairs"] = np.asarray(sorted(self.pairs), dtype=np.int64)
        return cached

    @property
    def pair_mask(self) -> npt.NDArray[np.bool_]:
        """Per column, whether it is a word pair (a lookup, where testing membership would sort)."""
        cached: npt.NDArray[np.bool_] | None = self._masks.get("pairs")
        if cached is None:
            cached = self._masks["pairs"] = np.zeros(len(self.index), dtype=np.bool_)
            cached[self.pair_columns] = True
        return cached

    def __len__(self) -> int:
        return len(self.index)

    def word_ids(self, norm: str, negated: bool) -> tuple[int, ...]:
        """The known feature columns one word emits by itself (cached: words repeat)."""
        key = (norm, negated)
        found = self._word_ids.get(key)
        if found is None:
            found = tuple(j for f in word_features(norm, negated) if (j := self.index.get(f)) is not None)
            if len(self._word_ids) < 200_000:
                self._word_ids[key] = found
        return found

    def token_ids(self, words: list[Token]) -> list[tuple[int, ...]]:
        """Per word, the known feature columns it emits (its word pair with the previous word included)."""
        out: list[tuple[int, ...]] = []
        append, cached, index = out.append, self._word_ids, self.index
        previous_norm, previous_clause = "", -1  # no word before the first
        for _, _, norm, negated, clause in words:
            ids = cached.get((norm, negated))
            if ids is None:
                ids = self.word_ids(norm, negated)
            if clause == previous_clause:
                pair = index.get(f"b:{previous_norm} {norm}")
                if pair is not None:
                    ids = (*ids, pair)
            append(ids)
            previous_norm, previous_clause = norm, clause
        return out


def count_features(texts: Sequence[str]) -> list[dict[str, int]]:
    """Raw feature counts per text, as training builds its vocabulary from them."""
    out = []
    for text in texts:
        counts: dict[str, int] = {}
        for _, feature in token_features(tokens(text)):
            counts[feature] = counts.get(feature, 0) + 1
        out.append(counts)
    return out


@dataclass(frozen=True)
class Rows:
    """Sparse rows in compressed form (the arrays of a CSR matrix): row i is columns[indptr[i]:indptr[i+1]].

    `words` are each text's words; occurrence k is feature entry `entry[k]` emitted by word `owner[k]`
    (numbered across the batch), which is what attributing a score to words needs.
    """

    indptr: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int32]
    values: FloatArray
    width: int
    words: list[list[Token]]
    entry: npt.NDArray[np.int64]
    owner: npt.NDArray[np.int64]
    counts: FloatArray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def times(self, weights: FloatArray) -> FloatArray:
        """The (rows, outputs) product with a dense (width, outputs) matrix."""
        out = np.zeros((len(self), weights.shape[1]), dtype=np.float32)
        filled = np.flatnonzero(np.diff(self.indptr))
        if len(filled):
            products = weights[self.columns] * self.values[:, None]
            out[filled] = np.add.reduceat(products, self.indptr[filled], axis=0)
        return out


def vectorise(texts: Sequence[str], vocabulary: Vocabulary) -> Rows:
    """L2-normalised sublinear TF-IDF rows, one per text, with the words that emitted each feature."""
    all_words = [tokens(text) for text in texts]
    per_word = [ids for words in all_words for ids in vocabulary.token_ids(words)]
    flat = np.fromiter(itertools.chain.from_iterable(per_word), dtype=np.int64)
    owner = np.repeat(np.arange(len(per_word), dtype=np.int64), [len(ids) for ids in per_word])
    text_of_word = np.repeat(np.arange(len(texts), dtype=np.int64), [len(words) for words in all_words])
    width = len(vocabulary)
    keys, entry, counts = np.unique(text_of_word[owner] * width + flat, return_inverse=True, return_counts=True)
    columns = np.asarray(keys % width, dtype=np.int32)
    bounds = np.searchsorted(keys // width, np.arange(len(texts) + 1)).astype(np.int64)
    raw_counts = counts.astype(np.float32)
    values = (1.0 + np.log(raw_counts)) * vocabulary.idf[columns]
    lengths = np.diff(bounds)
    squares = np.add.reduceat(values * values, bounds[:-1][lengths > 0]) if len(values) else np.zeros(0)
    norms = np.ones(len(texts), dtype=np.float32)
    norms[lengths > 0] = np.sqrt(squares)
    scaled: FloatArray = np.asarray(values / np.repeat(norms, lengths), dtype=np.float32)
    return Rows(bounds, columns, scaled, width, all_words, entry.astype(np.int64), owner, raw_counts)


@dataclass(frozen=True)
class LinearModel:
    """Per-label logistic regressions over the vocabulary's TF-IDF vectors, and the decision threshold of each."""

    labels: tuple[str, ...]
    vocabulary: Vocabulary
    weights: FloatArray  # (features, labels)
    bias: FloatArray  # (labels,)
    thresholds: FloatArray  # (labels,)

    def probabilities(self, texts: Sequence[str]) -> FloatArray:
        """(texts, labels) probabilities."""
        return self.probabilities_of(vectorise(texts, self.vocabulary))

    def probabilities_of(self, rows: Rows) -> FloatArray:
        """(rows, labels) probabilities of vectorised texts."""
        if not len(rows):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = rows.times(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)

    def contributions(self, rows: Rows) -> list[FloatArray]:
        """Per text, a (words, labels) array of how much each word moved each label's logit (a word pair is
        shared by its two words)."""
        columns = rows.columns[rows.entry]
        share = rows.values[rows.entry] / rows.counts[rows.entry]
        moved = self.weights[columns] * share[:, None]
        pair = self.vocabulary.pair_mask[columns]
        moved[pair] /= 2
        total = sum(len(words) for words in rows.words)
        scores = np.zeros((total, len(self.labels)), dtype=np.float32)
        _add_grouped(scores, rows.owner, moved)
        _add_grouped(scores, rows.owner[pair] - 1, moved[pair])
        bounds = np.cumsum([0, *(len(words) for words in rows.words)])
        return [scores[bounds[i] : bounds[i + 1]] for i in range(len(rows.words))]


def _add_grouped(target: FloatArray, rows: npt.NDArray[np.int64], values: FloatArray) -> None:
    """target[rows[k]] += values[k] for rows in non-decreasing order (as words emit features), summed per run."""
    if not len(rows):
        return
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    target[rows[starts]] += np.add.reduceat(values, starts, axis=0)
