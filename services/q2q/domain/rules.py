"""Lexicon rules: a compact pattern notation compiled to regular expressions over normalised text.

Notation: a space matches any run of whitespace, `*` any word ending (lemma-ish stems such as
`frustrat*`), and ` ~ ` a gap of up to four words inside the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.q2q.domain.taxonomy import Label

_GAP = r"\s+(?:\S+\s+){0,4}?"
# Shared fragments of patterns.
LANGUAGE = r"(?:norwegian|english|swedish|danish|german|french|dutch|finnish|language)"
DONT = r"(?:don't|dont|do not|doesn't|doesnt|does not|didn't|didnt|did not)"
CANT = r"(?:can't|cant|cannot|can not|couldn't|couldnt|could not)"
SELF = (
    r"(?:i|i'm|im|i am|i feel|i felt|i think i am|he|she|he's|she's|he is|she is"
    r"|he felt|she felt|he feels|she feels)"
)
DEFAULT_WEIGHT = 0.7


@dataclass(frozen=True)
class Rule:
    """One pattern that supports one label.

    `negated` is the label when a negation precedes the match (None drops the match);
    `resolved` the label when the negated state is said to be over ("not lonely anymore").
    `negatable` is False for patterns that carry their own negation ("nobody helps").
    `yields_to` drops the match when it overlaps a match of one of those labels.
    """

    label: Label
    pattern: str
    reason: str
    weight: float = DEFAULT_WEIGHT
    negatable: bool = True
    negated: Label | None = None
    resolved: Label | None = None
    yields_to: frozenset[Label] = field(default_factory=frozenset)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_pattern(self.pattern))

    def label_when_negated(self, *, resolved: bool) -> Label | None:
        """The label of a negated match (None: the match is dropped)."""
        if resolved and self.resolved is not None:
            return self.resolved
        return self.negated


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regex of a rule pattern, anchored on word boundaries."""
    body = pattern.replace(" ~ ", _GAP).replace(" ", r"\s+").replace("*", r"\w*")
    return re.compile(r"(?<![\w'])(?:" + body + r")(?![\w])")


def rules(
    label: Label,
    reason: str,
    *patterns: str,
    weight: float = DEFAULT_WEIGHT,
    negatable: bool = True,
    negated: Label | None = None,
    resolved: Label | None = None,
    yields_to: frozenset[Label] = frozenset(),
) -> list[Rule]:
    """One Rule per pattern, all with the same label, reason and options."""
    return [Rule(label, pattern, reason, weight, negatable, negated, resolved, yields_to) for pattern in patterns]
