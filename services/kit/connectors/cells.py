"""CSV cell parsers: each reads one trimmed, non-empty cell or raises FieldInvalid with a message for
people. JSON payload fields reuse them (fields.py), so a value means the same in a file and a webhook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import TypeVar

from services.kit import characters
from services.kit.connectors import payloads

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
Parser = Callable[[str], object]
T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
N = TypeVar("N", int, float)


class FieldInvalid(ValueError):
    """A parser's verdict on one value."""


def text(max_length: int, *, min_length: int = 1) -> Callable[[str], str]:
    """Free text of bounded length."""

    def parse_text(value: str) -> str:
        if not min_length <= len(value) <= max_length:
            raise FieldInvalid(f"must be {min_length}-{max_length} characters (has {len(value)})")
        return value

    return parse_text


def line(max_length: int, *, min_length: int = 1) -> Callable[[str], str]:
    """One line of text of bounded length (an id, a name): no control character, tab or line break."""
    parse_text = text(max_length, min_length=min_length)

    def parse_line(value: str) -> str:
        fault = characters.control_fault(value, free_text=False)
        if fault is not None:
            raise FieldInvalid(fault)
        return parse_text(value)

    return parse_line


def email(value: str) -> str:
    """An e-mail address, normalised (trimmed, lower-cased), at most 255 characters."""
    if len(value) > 255 or not EMAIL.match(value):
        raise FieldInvalid("is not a valid e-mail address")
    return value.lower()


def timestamp(value: str) -> datetime:
    """An ISO 8601 date-time (zone-less means UTC) or a YYYY-MM-DD date (midnight UTC), as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid("must be an ISO date-time or YYYY-MM-DD") from None
    if len(value) == len("YYYY-MM-DD"):
        parsed = datetime.combine(date.fromisoformat(value), time(0), UTC)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def integer(low: int, high: int) -> Callable[[str], int]:
    """A whole number in [low, high]."""
    return _numeric(int, "must be a whole number", within(low, high))


def number(low: float, high: float) -> Callable[[str], float]:
    """A decimal number in [low, high]."""
    return _numeric(float, "must be a number", within(low, high))


def _numeric(convert: Callable[[str], N], message: str, check: Callable[[N], N]) -> Callable[[str], N]:
    def parse_numeric(value: str) -> N:
        try:
            parsed = convert(value)
        except ValueError:
            raise FieldInvalid(message) from None
        return check(parsed)

    return parse_numeric


def within(low: float, high: float) -> Callable[[N], N]:
    """A check that a number lies in [low, high] (NaN, which compares false with everything, does not)."""
    label = f"must be between {low:g} and {high:g}"

    def check(value: N) -> N:
        if not low <= value <= high:
            raise FieldInvalid(label)
        return value

    return check


def choice(kind: type[E]) -> Callable[[str], E]:
    """One of an enumeration's values (case-insensitive)."""

    def parse_choice(value: str) -> E:
        try:
            return kind(value.lower())
        except ValueError:
            raise FieldInvalid(f"must be one of {', '.join(kind)}") from None

    return parse_choice


def listing(max_length: int) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list (in one quoted field), at most `max_length` characters."""

    def parse_listing(value: str) -> tuple[str, ...]:
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        return tuple(_parts(value))

    return parse_listing


def items(item: Callable[[str], T], *, max_items: int, max_length: int) -> Callable[[str], tuple[T, ...]]:
    """A comma-separated list (in one quoted field) of at most `max_items` distinct items, each read by `item`."""

    def parse_items(value: str) -> tuple[T, ...]:
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        return distinct(max_items)([_item(item, position, part) for position, part in enumerate(_parts(value), 1)])

    return parse_items


def _parts(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _item(parse: Callable[[str], T], position: int, value: str) -> T:
    """One item of a list, its fault prefixed with its position."""
    try:
        return parse(value)
    except FieldInvalid as exc:
        raise FieldInvalid(f"item {position} {exc}") from None


def distinct(max_items: int) -> Callable[[Sequence[T]], tuple[T, ...]]:
    """A check that a list has at most `max_items` items; repeats are dropped, first one kept."""

    def check(values: Sequence[T]) -> tuple[T, ...]:
        if len(values) > max_items:
            raise FieldInvalid(f"must have at most {max_items} items")
        return tuple(dict.fromkeys(values))

    return check


def json_object(max_length: int) -> Callable[[str], dict[str, object]]:
    """A JSON object given as text."""

    def parse_json(value: str) -> dict[str, object]:
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        parsed = json_text(value)
        if not isinstance(parsed, dict):
            raise FieldInvalid("must be a JSON object")
        return parsed

    return parse_json


def json_text(value: str) -> object:
    """JSON given as text, decoded; a control character its escapes spell (`\\u0000`) is refused as a
    raw one is, naming where it is inside the value."""
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        raise FieldInvalid("is not valid JSON") from None
    found = payloads.control_violations(parsed)
    if found:
        raise FieldInvalid(f"{found[0].field} {found[0].description}".strip())
    return parsed
