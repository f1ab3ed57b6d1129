"""Safety's training and validation texts, composed from the phrase banks with a fixed seed, and the leakage check.

The banks (`data/banks/<language>.jsonl`, and `<language>-<batch>.jsonl` for the later batches) hold hand-written
texts labelled `self_harm`, `spam` or `clean`. One text in five, chosen by a hash of the text, goes to validation
and never to training, so thresholds chosen on validation meet unseen wording. Each text is also composed with an
ordinary text of its language from the same side of the split (the signal inside everyday programme talk), and
training texts get one variant with a typo. The development sets (`test.jsonl`, `dev.jsonl`, `heldout.jsonl`) are
added to training. The held-out splits (`heldout_v2.jsonl` to `heldout_v4.jsonl`) are never trained on: they are read
only to leave out any bank or development text that shares a word 6-gram with them (a few short texts, written
independently, say the same thing in the same words), and by `check_leakage`, which refuses a corpus sharing one.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.safety.domain.classifier import LABELS

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BANKS_DIR = DATA_DIR / "banks"
LANGUAGES = ("en", "nb", "sv", "da", "de", "pl", "es", "uk", "ar")
CLEAN = "clean"
SEED = 20261207
# Development sets the rules were written against: training material, never a test.
DEVELOPMENT_SETS = ("test.jsonl", "dev.jsonl", "heldout.jsonl")
PROTECTED = ("heldout_v2.jsonl", "heldout_v3.jsonl", "heldout_v4.jsonl")
LEAK_NGRAM = 6
_JOINERS = (" ", ". ", "\n", " - ", ", ")


class LeakageError(ValueError):
    """The corpus shares text with a held-out test split."""


@dataclass(frozen=True)
class Row:
    """One labelled text: its language, text and the labels it carries (none for a clean text)."""

    lang: str
    text: str
    labels: tuple[str, ...]

    def to_json(self) -> str:
        """The JSON line of the row."""
        return json.dumps({"lang": self.lang, "text": self.text, "labels": list(self.labels)}, ensure_ascii=False)


@dataclass(frozen=True)
class BankText:
    """One hand-written text of a bank."""

    lang: str
    label: str
    text: str


def read_bank(path: Path) -> list[BankText]:
    """The texts of one bank file; a line with an unknown label is an error naming it."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if item["label"] not in (*LABELS, CLEAN):
            raise ValueError(f"{path}:{number}: unknown label {item['label']!r}")
        out.append(BankText(path.stem.split("-")[0], item["label"], item["text"].strip()))
    return out


def in_validation(text: str) -> bool:
    """Whether a bank text belongs to validation (one in five, by a hash of the text)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 5 == 0


def compose(*, seed: int = SEED, banks_dir: Path = BANKS_DIR, data_dir: Path = DATA_DIR) -> dict[str, list[Row]]:
    """The train and validation rows, in a fixed order for a fixed seed."""
    protected = Protected.of(data_dir)
    files = [
        path
        for lang in LANGUAGES
        for name in (f"{lang}.jsonl", f"{lang}-*.jsonl")
        for path in sorted(banks_dir.glob(name))
    ]
    # Written independently, a few short texts say what a held-out text says in the same words: left out.
    bank = [text for path in files if path.is_file() for text in read_bank(path) if not protected.leaks(text.text)]
    rng = random.Random(seed)  # noqa: S311  # a fixed seed for a reproducible corpus, not a secret
    splits: dict[str, list[Row]] = {"train": [], "validation": []}
    for split in splits:
        chosen = [t for t in bank if in_validation(t.text) == (split == "validation")]
        ordinary = {lang: [t.text for t in chosen if t.lang == lang and t.label == CLEAN] for lang in LANGUAGES}
        for item in chosen:
            labels = () if item.label == CLEAN else (item.label,)
            rows = [Row(item.lang, item.text, labels)]
            if ordinary[item.lang]:
                rows.append(Row(item.lang, _in_context(item.text, ordinary[item.lang], rng), labels))
            if split == "train":
                rows.append(Row(item.lang, typo(item.text, rng), labels))
            splits[split] += rows
    splits["train"] += [row for row in development_rows(data_dir) if not protected.leaks(row.text)]
    for rows in splits.values():
        rows[:] = list({(row.lang, row.text): row for row in rows}.values())
    return splits


def _in_context(text: str, ordinary: Sequence[str], rng: random.Random) -> str:
    other = rng.choice(ordinary)
    joiner = rng.choice(_JOINERS)
    return f"{other}{joiner}{text}" if rng.random() < 0.5 else f"{text}{joiner}{other}"


def typo(text: str, rng: random.Random) -> str:
    """`text` with one letter of one word dropped, doubled or swapped with the next, different one (seeded)."""
    places = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not places:
        return text
    i = rng.choice(places)
    kind = rng.randrange(3)
    if kind == 0 or text[i] == text[i + 1]:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def development_rows(data_dir: Path = DATA_DIR) -> list[Row]:
    """The development sets as training rows: a self-harm or spam text carries its label, the rest none."""
    rows = []
    for name in DEVELOPMENT_SETS:
        for line in (data_dir / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                labels = (case["expected"],) if case["expected"] in LABELS else ()
                rows.append(Row(case["language"], case["text"], labels))
    return rows


@dataclass(frozen=True)
class Protected:
    """The whole texts and word 6-grams of the held-out test splits."""

    whole: frozenset[str]
    grams: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, data_dir: Path = DATA_DIR) -> Protected:
        """What the held-out splits in `data_dir` hold."""
        texts = [
            json.loads(line)["text"]
            for name in PROTECTED
            if (data_dir / name).is_file()
            for line in (data_dir / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        return cls(frozenset(_key(t) for t in texts), frozenset(g for t in texts for g in _ngrams(t)))

    def leaks(self, text: str) -> bool:
        """Whether `text` is a held-out text or shares a word 6-gram with one."""
        return _key(text) in self.whole or any(gram in self.grams for gram in _ngrams(text))


def check_leakage(texts: Iterable[str], data_dir: Path = DATA_DIR) -> None:
    """Refuses a corpus that shares a whole text or a word 6-gram with a held-out test split."""
    protected = Protected.of(data_dir)
    for text in texts:
        if protected.leaks(text):
            raise LeakageError(f"the corpus shares text with a held-out split: {text[:80]!r}")


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _ngrams(text: str) -> set[tuple[str, ...]]:
    words = _key(text).split()
    return {tuple(words[i : i + LEAK_NGRAM]) for i in range(len(words) - LEAK_NGRAM + 1)}


def write_rows(path: Path, rows: Sequence[Row]) -> str:
    """Writes a split as JSON lines and returns its SHA-256."""
    body = "".join(row.to_json() + "\n" for row in rows)
    path.write_text(body, encoding="utf-8")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def read_rows(path: Path) -> list[Row]:
    """The rows of a split file."""
    return [
        Row(item["lang"], item["text"], tuple(item["labels"]))
        for item in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    ]
