"""Validators for the fields of connector payload models, applying the CSV cell rules to JSON values
(a string field is trimmed first), so that a value means the same in a file and in a webhook."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TypeVar

from pydantic import AfterValidator, BeforeValidator

from services.kit.connectors import cells
from services.kit.connectors.cells import FieldInvalid

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


def parsed(parser: Callable[[str], T]) -> AfterValidator:
    """A string field read by a cell parser, after trimming."""
    return AfterValidator(lambda value: parser(value.strip()))


def text(max_length: int, *, min_length: int = 1) -> AfterValidator:
    """Trimmed text of bounded length."""
    return parsed(cells.text(max_length, min_length=min_length))


def line(max_length: int, *, min_length: int = 1) -> AfterValidator:
    """Trimmed single-line text of bounded length (an id, a name): no tab or line break."""
    return parsed(cells.line(max_length, min_length=min_length))


EMAIL = parsed(cells.email)


def _timestamp(value: object) -> object:
    return cells.timestamp(value.strip()) if isinstance(value, str) else value


TIMESTAMP = BeforeValidator(_timestamp)
"""A datetime field given as an ISO 8601 string or YYYY-MM-DD (as in CSV), held in UTC."""


def choice(kind: type[E]) -> BeforeValidator:
    """An enumeration field given as one of its values (case-insensitive)."""
    parse = cells.choice(kind)
    return BeforeValidator(lambda value: parse(value.strip()) if isinstance(value, str) else value)


def within(low: float, high: float) -> AfterValidator:
    """A number in [low, high]."""
    return AfterValidator(cells.within(low, high))


def _as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


LIST = BeforeValidator(_as_tuple)
"""A tuple field given as a JSON array."""


def distinct(max_items: int) -> AfterValidator:
    """A list of at most `max_items` items; repeats are dropped, first one kept."""
    return AfterValidator(cells.distinct(max_items))


def joined_at_most(max_length: int) -> AfterValidator:
    """A list of strings at most `max_length` characters long once comma-joined (as in one CSV cell)."""

    def check(items: Sequence[str]) -> Sequence[str]:
        if len(",".join(items)) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters in total")
        return items

    return AfterValidator(check)


def json_at_most(max_length: int) -> AfterValidator:
    """A free-form object at most `max_length` characters long as compact JSON."""

    def check(value: dict[str, object]) -> dict[str, object]:
        if len(json.dumps(value, separators=(",", ":"))) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters as JSON")
        return value

    return AfterValidator(check)
