"""Field kinds of Buddy records, each readable from a CSV cell and from a JSON value with the same rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.kit.connectors import csvimport
from services.kit.connectors.csvimport import FieldInvalid

MAX_QUESTIONS = 50
MAX_QUESTION_LENGTH = 500
MAX_ANSWER_LENGTH = 5000


class FieldKind(Protocol):
    """How one field's value is read; both readers raise FieldInvalid with a message for people."""

    def from_text(self, value: str) -> Any: ...

    def from_json(self, value: object) -> Any: ...


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise FieldInvalid("must be a string")
    return value.strip()


@dataclass(frozen=True)
class Text:
    """Free text of bounded length."""

    max_length: int

    def from_text(self, value: str) -> str:
        parsed: str = csvimport.text(self.max_length)(value)
        return parsed

    def from_json(self, value: object) -> str:
        return self.from_text(_string(value))


class Email:
    """An e-mail address, normalised (trimmed, lower-cased)."""

    def from_text(self, value: str) -> str:
        return csvimport.email(value)

    def from_json(self, value: object) -> str:
        return self.from_text(_string(value))


class Timestamp:
    """An ISO 8601 date-time or YYYY-MM-DD, kept in UTC (zone-less means UTC)."""

    def from_text(self, value: str) -> datetime:
        return csvimport.timestamp(value).astimezone(UTC)

    def from_json(self, value: object) -> datetime:
        return self.from_text(_string(value))


class Score:
    """A number from 0 to 1; a JSON value must be a number, not a string."""

    def from_text(self, value: str) -> float:
        parsed: float = csvimport.number(0, 1)(value)
        return parsed

    def from_json(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldInvalid("must be a number")
        return self.from_text(repr(float(value)))


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words (case-insensitive), returned lower-cased."""

    allowed: tuple[str, ...]

    def from_text(self, value: str) -> str:
        parsed: str = csvimport.choice(*self.allowed)(value)
        return parsed

    def from_json(self, value: object) -> str:
        return self.from_text(_string(value))


@dataclass(frozen=True)
class Listing:
    """A list of items: comma-separated in CSV, an array of strings in JSON; repeats are dropped."""

    item: FieldKind
    max_items: int
    max_length: int

    def from_text(self, value: str) -> tuple[Any, ...]:
        if len(value) > self.max_length:
            raise FieldInvalid(f"must be at most {self.max_length} characters")
        return self._items([part.strip() for part in value.split(",") if part.strip()])

    def from_json(self, value: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise FieldInvalid("must be an array of strings")
        return self._items([_string(item) for item in value if not isinstance(item, str) or item.strip()])

    def _items(self, raw: list[str]) -> tuple[Any, ...]:
        if len(raw) > self.max_items:
            raise FieldInvalid(f"must have at most {self.max_items} items")
        parsed: list[Any] = []
        for position, item in enumerate(raw, start=1):
            try:
                value = self.item.from_text(item)
            except FieldInvalid as exc:
                raise FieldInvalid(f"item {position} {exc}") from None
            if value not in parsed:
                parsed.append(value)
        return tuple(parsed)


class Answers:
    """Check-in question responses: a JSON object of question → answer (JSON text inside a CSV cell)."""

    max_text = 40_000

    def from_text(self, value: str) -> tuple[tuple[str, str], ...]:
        if len(value) > self.max_text:
            raise FieldInvalid(f"must be at most {self.max_text} characters")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise FieldInvalid("is not valid JSON") from None
        return self.from_json(parsed)

    def from_json(self, value: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise FieldInvalid("must be a JSON object of question to answer")
        if len(value) > MAX_QUESTIONS:
            raise FieldInvalid(f"must have at most {MAX_QUESTIONS} questions")
        return tuple(_answer(question, answer) for question, answer in value.items())


def _answer(question: str, answer: object) -> tuple[str, str]:
    question = question.strip()
    if not 1 <= len(question) <= MAX_QUESTION_LENGTH:
        raise FieldInvalid(f"questions must be 1-{MAX_QUESTION_LENGTH} characters")
    if not isinstance(answer, str) or len(answer) > MAX_ANSWER_LENGTH:
        raise FieldInvalid(f"the answer to {question[:40]!r} must be a string of at most {MAX_ANSWER_LENGTH}")
    return question, answer.strip()
