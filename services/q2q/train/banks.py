"""The phrase banks (`services/q2q/data/phrases/<lang>.txt`) the training and validation texts are composed from.

A bank is a text file: `@ <label>` starts a section of phrases for that label, `@ neutral` phrases with no
label, `@ cases` whole texts with their own labels (negation, "used to … now", sarcasm, volunteers' own
feelings). Phrase lines start with the author, `p` (participant) or `v` (volunteer); case lines are
`<author> <codes or -> [<tag> ...] | <text>`, the codes being the short ones of `CODES` and the tags those of
`CASE_TAGS`. A case's tags go into the tags of the texts it is used in (for measuring, never for training).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from services.q2q.domain.taxonomy import LABELS, Label

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PHRASES_DIR = DATA_DIR / "phrases"
LANGUAGES = ("en", "nb", "sv", "da", "de", "pl", "es", "uk", "ar")
AUTHORS = {"p": "participant", "v": "volunteer"}
CODES: dict[str, Label] = {
    "ci": Label.CONFIDENCE_INCREASE, "cd": Label.CONFIDENCE_DECREASE, "bi": Label.BELONGING_INCREASE,
    "bd": Label.BELONGING_DECREASE, "ll": Label.LANGUAGE_COMFORT_LOW, "lm": Label.LANGUAGE_COMFORT_MEDIUM,
    "lh": Label.LANGUAGE_COMFORT_HIGH, "js": Label.JOB_SEARCH, "sg": Label.SKILLS_GAINED, "nw": Label.NETWORKING,
    "cv": Label.RESUME_IMPROVEMENT, "ip": Label.INTERVIEW_PREP, "ce": Label.CERTIFICATION,
    "pf": Label.PORTFOLIO_BUILDING, "cg": Label.CAREER_GOAL_SETTING, "is": Label.ISOLATION,
    "fr": Label.FRUSTRATION, "de": Label.DISENGAGEMENT, "an": Label.ANXIETY, "do": Label.DROPOUT_INDICATION,
    "co": Label.CONFUSION, "ns": Label.NEGATIVE_SELF_TALK, "ls": Label.LACK_OF_SUPPORT,
}  # fmt: skip
_ORDER = {entry.label: i for i, entry in enumerate(LABELS)}
CASE_TAGS = frozenset({"used_to_now", "volunteer_own_feeling"})
VALIDATION_SHARE = 5  # one phrase in five (by hash) is kept for validation texts only


class BankError(ValueError):
    """A phrase bank line cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Phrase:
    """A phrase or a whole case text, who writes it, and the labels it carries."""

    author: str
    text: str
    labels: tuple[Label, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bank:
    """One language's phrases by label, its neutral phrases and its cases."""

    lang: str
    phrases: dict[Label, list[Phrase]] = field(default_factory=dict)
    neutral: list[Phrase] = field(default_factory=list)
    cases: list[Phrase] = field(default_factory=list)

    def split(self, name: str) -> Bank:
        """The part of the bank that texts of split `name` (train or validation) may use."""
        keep = [p for p in self.all() if split_of(p.text) == name]
        bank = Bank(self.lang)
        for phrase in keep:
            _file(bank, phrase, "case" if phrase in self.cases else ("neutral" if not phrase.labels else ""))
        return bank

    def all(self) -> list[Phrase]:
        """Every phrase and case of the bank."""
        return [p for group in self.phrases.values() for p in group] + self.neutral + self.cases


def split_of(text: str) -> str:
    """Which split a phrase belongs to, fixed by its text alone."""
    return "validation" if hashlib.sha256(text.encode()).digest()[0] % VALIDATION_SHARE == 0 else "train"


def sorted_labels(labels: set[Label] | tuple[Label, ...]) -> tuple[Label, ...]:
    """Labels in taxonomy order."""
    return tuple(sorted(set(labels), key=_ORDER.__getitem__))


def read_bank(lang: str, directory: Path = PHRASES_DIR) -> Bank:
    """The bank of one language; BankError naming the line that cannot be read."""
    path = directory / f"{lang}.txt"
    bank, section = Bank(lang), ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            section = _read_line(bank, section, line)
        except (KeyError, ValueError) as error:
            raise BankError(f"{path.name}:{number}: {error}: {raw!r}") from error
    return bank


def _read_line(bank: Bank, section: str, line: str) -> str:
    if line.startswith("@ "):
        name = line[2:].strip()
        if name not in {"neutral", "cases"}:
            Label(name)
        return name
    author, _, rest = line.partition(" ")
    if section == "cases":
        head, bar, text = rest.partition("|")
        if not bar:
            raise ValueError("a case needs '<codes> [<tag> ...] | <text>'")
        codes, *tags = head.split()
        if unknown := set(tags) - CASE_TAGS:
            raise ValueError(f"unknown case tags {sorted(unknown)}")
        labels = () if codes == "-" else tuple(CODES[c.strip()] for c in codes.split(","))
        _file(bank, Phrase(AUTHORS[author], text.strip(), sorted_labels(labels), tuple(tags)), "case")
    elif section == "neutral":
        _file(bank, Phrase(AUTHORS[author], rest.strip(), ()), "neutral")
    elif section:
        _file(bank, Phrase(AUTHORS[author], rest.strip(), (Label(section),)), "")
    else:
        raise ValueError("a phrase before any section")
    return section


def _file(bank: Bank, phrase: Phrase, kind: str) -> None:
    if kind == "case":
        bank.cases.append(phrase)
    elif kind == "neutral":
        bank.neutral.append(phrase)
    else:
        bank.phrases.setdefault(phrase.labels[0], []).append(phrase)
