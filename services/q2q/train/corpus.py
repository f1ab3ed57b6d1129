"""Training and validation texts composed from the phrase banks with a fixed seed, and the leakage check.

Validation texts are composed only from phrases the training texts never use (one in five, chosen by a
hash of the phrase), so thresholds chosen on validation meet unseen wording. The test split is written
by hand and separately (README.md); `check_leakage` refuses a corpus that shares a text or a word
6-gram with it.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.q2q.domain.features import tokens
from services.q2q.domain.taxonomy import LABELS, Category, Label, category_of
from services.q2q.train.banks import DATA_DIR, LANGUAGES, Bank, Phrase, read_bank, sorted_labels

SEED = 20250615
TEXTS_PER_LANGUAGE = {"train": 3000, "validation": 250}
PROTECTED = (DATA_DIR / "test.jsonl", Path(__file__).resolve().parents[1] / "evaluation" / "holdout_set.jsonl")
EXTRA_TRAINING = Path(__file__).resolve().parents[1] / "evaluation" / "eval_set.jsonl"
LEAK_NGRAM = 6
_AND = {"en": "and", "nb": "og", "sv": "och", "da": "og", "de": "und", "pl": "i", "es": "y", "uk": "і", "ar": "و"}  # noqa: RUF001
_ENDINGS = (".", ".", ".", "!", "", "...", " :)")
_KIND = {Label.CONFIDENCE_INCREASE: "c", Label.CONFIDENCE_DECREASE: "c", Label.BELONGING_INCREASE: "b",
         Label.BELONGING_DECREASE: "b"}  # fmt: skip


class LeakageError(ValueError):
    """The corpus shares text with the held-out test split."""


@dataclass(frozen=True)
class Row:
    """One labelled text of a split."""

    id: str
    lang: str
    author: str
    text: str
    labels: tuple[Label, ...]
    tags: tuple[str, ...]

    def to_json(self) -> str:
        """The JSON line of the row."""
        fields = {"id": self.id, "lang": self.lang, "author": self.author, "text": self.text}
        return json.dumps(
            {**fields, "labels": [x.value for x in self.labels], "tags": list(self.tags)}, ensure_ascii=False
        )


def compose_split(
    name: str, *, seed: int = SEED, banks: Sequence[Bank] | None = None, per_language: int | None = None
) -> list[Row]:
    """Every text of split `name` (train or validation), in a fixed order for a fixed seed."""
    banks = banks if banks is not None else [read_bank(lang) for lang in LANGUAGES]
    wanted = per_language or TEXTS_PER_LANGUAGE[name]
    english = next((b for b in banks if b.lang == "en"), None)
    # Phrases never share a 6-gram with a held-out text (the banks are checked), but two phrases joined by
    # "and" can happen to; such a composed text is dropped like a duplicate, and another one is drawn.
    held_out = _Index.of([path for path in PROTECTED if path.exists()])
    rows: list[Row] = []
    for offset, bank in enumerate(banks):
        rng = random.Random(f"{seed}:{name}:{offset}")  # noqa: S311 - sampling a corpus, not a secret
        own, other = bank.split(name), english.split(name) if english and bank.lang != "en" else None
        seen: set[str] = set()
        for _ in range(wanted * 3):
            if len(seen) >= wanted:
                break
            author, text, labels, tags = _compose(rng, own, other)
            if text not in seen and not held_out.shares(text):
                seen.add(text)
                rows.append(Row(f"{name}-{bank.lang}-{len(seen):04d}", bank.lang, author, text, labels, tags))
    return rows


Composed = tuple[str, str, tuple[Label, ...], tuple[str, ...]]


def _compose(rng: random.Random, bank: Bank, english: Bank | None) -> Composed:
    author = "participant" if rng.random() < 0.6 else "volunteer"
    parts: list[Phrase] = []
    tags: list[str] = []
    if bank.cases and rng.random() < 0.25:
        case = rng.choice(bank.cases)
        author, parts = case.author, [case]
        tags += ["case", *case.tags]
    wanted = rng.choices((0, 1, 2, 3), weights=(10, 52, 30, 8))[0] - len(parts)
    for label in _pick_labels(rng, bank, max(wanted, 0), {x for p in parts for x in p.labels}):
        source = english if english is not None and english.phrases.get(label) and rng.random() < 0.07 else bank
        parts.append(_phrase(rng, source, label, author))
        if source is english:
            tags.append("code_switch")
    neutral = [p for p in bank.neutral if p.author == author] or bank.neutral
    for _ in range(rng.choices((0, 1, 2), weights=(55, 35, 10))[0] if parts else rng.choice((1, 2))):
        if neutral:
            parts.append(rng.choice(neutral))
    rng.shuffle(parts)
    text = _render(rng, bank.lang, [p.text for p in parts])
    if rng.random() < 0.15:
        text, tags = text.lower(), [*tags, "lowercase"]
    if rng.random() < 0.18:
        text, tags = _typos(rng, text), [*tags, "typo"]
    return author, text, sorted_labels({x for p in parts for x in p.labels}), tuple(tags)


def _pick_labels(rng: random.Random, bank: Bank, count: int, taken: set[Label]) -> list[Label]:
    chosen: list[Label] = []
    available = [entry.label for entry in LABELS if bank.phrases.get(entry.label)]
    for label in rng.sample(available, k=min(count * 3, len(available))):
        if len(chosen) == count:
            break
        if _conflicts(label, taken | set(chosen)):
            continue
        chosen.append(label)
    return chosen


def _conflicts(label: Label, taken: set[Label]) -> bool:
    if category_of(label) is Category.LANGUAGE_COMFORT:
        return any(category_of(x) is Category.LANGUAGE_COMFORT for x in taken)
    return label in _KIND and any(_KIND.get(x) == _KIND[label] for x in taken)


def _phrase(rng: random.Random, bank: Bank, label: Label, author: str) -> Phrase:
    pool = bank.phrases[label]
    return rng.choice([p for p in pool if p.author == author] or pool)


def _render(rng: random.Random, lang: str, texts: list[str]) -> str:
    out = ""
    for index, raw in enumerate(texts):
        text = raw.strip()
        if index and rng.random() < 0.2 and out and out[-1].isalnum():
            out += f" {_AND[lang]} {text[:1].lower()}{text[1:]}"
            continue
        if out and out[-1].isalnum():
            out += rng.choice(_ENDINGS)
        out += (rng.choice((" ", " ", " ", "\n")) if out else "") + text
    return out + (rng.choice(_ENDINGS) if out and out[-1].isalnum() else "")


def _typos(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    for _ in range(rng.choice((1, 1, 2))):
        candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if not candidates:
            break
        i = rng.choice(candidates)
        word, at = words[i], rng.randrange(1, len(words[i]) - 1)
        operation = rng.choice(("swap", "drop", "double"))
        if operation == "swap":
            words[i] = word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]
        elif operation == "drop":
            words[i] = word[:at] + word[at + 1 :]
        else:
            words[i] = word[:at] + word[at] + word[at:]
    return " ".join(words)


def extra_training_rows(protected: Sequence[Path] = PROTECTED) -> list[Row]:
    """The rules' English evaluation set, written by another hand, joins the training texts, less any text
    that shares a word 6-gram with a held-out set (the rule of `check_leakage`)."""
    held_out = _Index.of(protected)
    rows = []
    for line in EXTRA_TRAINING.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if held_out.shares(item["text"]):
                continue
            author = "participant" if item["author"] == "participant" else "volunteer"
            labels = sorted_labels({Label(code) for code in item["labels"]})
            rows.append(Row(f"train-evalset-{item['id']}", "en", author, item["text"], labels, tuple(item["tags"])))
    return rows


def ngrams(text: str, size: int = LEAK_NGRAM) -> set[tuple[str, ...]]:
    """The normalised word n-grams of a text."""
    words = [t.norm for t in tokens(text)]
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


@dataclass(frozen=True)
class _Index:
    grams: set[tuple[str, ...]]
    whole: set[str]
    names: list[tuple[str, str]]

    @classmethod
    def of_texts(cls, texts: Iterable[str], names: list[tuple[str, str]] | None = None) -> _Index:
        grams: set[tuple[str, ...]] = set()
        whole: set[str] = set()
        for text in texts:
            grams |= ngrams(text)
            whole.add(" ".join(t.norm for t in tokens(text)))
        return cls(grams, whole, names or [])

    @classmethod
    def of(cls, paths: Sequence[Path]) -> _Index:
        items = [json.loads(line) | {"file": path.name} for path in paths
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
        return cls.of_texts([i["text"] for i in items], [(f"{i['file']}:{i['id']}", i["text"]) for i in items])

    def shares(self, text: str) -> bool:
        return " ".join(t.norm for t in tokens(text)) in self.whole or bool(ngrams(text) & self.grams)


def check_leakage(texts: Iterable[str], protected: Sequence[Path] = PROTECTED) -> None:
    """LeakageError naming the held-out texts that share a whole text or a word 6-gram with `texts`."""
    corpus = _Index.of_texts(texts)
    leaks = [name for name, text in _Index.of(protected).names if corpus.shares(text)]
    if leaks:
        raise LeakageError(f"{len(leaks)} held-out texts share words with the corpus: {', '.join(leaks[:10])}")


def write_rows(path: Path, rows: Iterable[Row]) -> str:
    """Writes JSON lines and returns the file's SHA-256."""
    body = "".join(row.to_json() + "\n" for row in rows)
    path.write_text(body, encoding="utf-8")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
