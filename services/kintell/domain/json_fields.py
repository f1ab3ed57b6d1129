"""Strict reading of a JSON webhook body: exact types, no unknown or duplicate keys, every fault
collected with its dotted field path so one answer names them all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from services.kintell.domain.errors import InvalidWebhook
from services.kit.connectors import csvimport
from services.kit.errors import FieldViolation

T = TypeVar("T")
MAX_BODY_BYTES = 1024 * 1024


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; raises InvalidWebhook (field `body`) for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise _body_fault(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise _body_fault("the body is empty")
    try:
        parsed = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _body_fault("the body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise _body_fault(f"the body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise _body_fault("the body must be a JSON object")
    return parsed


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"duplicate keys {', '.join(repeated)}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _body_fault(message: str) -> InvalidWebhook:
    return InvalidWebhook(message, violations=[FieldViolation("body", message)])


class Reader:
    """Reads the fields of one JSON object, recording violations instead of stopping at the first."""

    def __init__(self, data: dict[str, Any], *, path: str = "", violations: list[FieldViolation] | None = None):
        self._data = data
        self._path = path
        self.violations: list[FieldViolation] = [] if violations is None else violations

    def name(self, key: str) -> str:
        """The dotted path of a field of this object."""
        return f"{self._path}.{key}" if self._path else key

    def fault(self, key: str, message: str) -> None:
        """Records a violation of one field."""
        self.violations.append(FieldViolation(self.name(key), message))

    def only(self, *allowed: str) -> None:
        """Refuses keys this object does not define."""
        for key in sorted(set(self._data) - set(allowed)):
            self.fault(key, "is not a known field")

    def text(self, key: str, max_length: int, *, required: bool = False) -> str:
        """A string of at most `max_length` characters ("" when absent and optional)."""
        value: str | None = self._typed(key, str, "a string", required=required)
        if value is None:
            return ""
        if required and not value.strip():
            self.fault(key, "must not be empty")
        elif len(value) > max_length:
            self.fault(key, f"must be at most {max_length} characters (has {len(value)})")
        return value.strip()

    def parsed(self, key: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        """A string converted by a CSV-kit parser (same rules as the CSV column)."""
        value = self._typed(key, str, "a string", required=required)
        if value is None:
            return None
        try:
            return parse(value.strip())
        except csvimport.FieldInvalid as exc:
            self.fault(key, str(exc))
            return None

    def integer(self, key: str, low: int, high: int) -> int | None:
        """An optional whole number in [low, high]."""
        value: int | None = self._typed(key, int, "a whole number", required=False)
        if value is not None and not low <= value <= high:
            self.fault(key, f"must be between {low} and {high}")
            return None
        return value

    def number(self, key: str, *, required: bool = False) -> float | None:
        """A JSON number (bounds are the caller's)."""
        value = self._typed(key, (int, float), "a number", required=required)
        return None if value is None else float(value)

    def strings(self, key: str, max_total: int, max_item: int) -> tuple[str, ...]:
        """An optional list of non-empty strings whose comma-joined length is at most `max_total`."""
        value = self._typed(key, list, "a list of strings", required=False)
        if value is None:
            return ()
        if not all(isinstance(item, str) and item.strip() and len(item) <= max_item for item in value):
            self.fault(key, f"must be a list of non-empty strings of at most {max_item} characters")
            return ()
        items = tuple(item.strip() for item in value)
        if len(",".join(items)) > max_total:
            self.fault(key, f"must be at most {max_total} characters in total")
        return items

    def obj(self, key: str, *, required: bool = False) -> Reader | None:
        """A nested object, read with the same violation list."""
        value = self._typed(key, dict, "an object", required=required)
        return None if value is None else Reader(value, path=self.name(key), violations=self.violations)

    def raw_object(self, key: str, max_length: int) -> dict[str, Any] | None:
        """An optional free-form object whose JSON text is at most `max_length` characters."""
        value: dict[str, Any] | None = self._typed(key, dict, "an object", required=False)
        if value is not None and len(json.dumps(value, separators=(",", ":"))) > max_length:
            self.fault(key, f"must be at most {max_length} characters as JSON")
            return None
        return value

    def _typed(self, key: str, kind: type | tuple[type, ...], label: str, *, required: bool) -> Any:
        value = self._data.get(key)
        if value is None:
            if required:
                self.fault(key, "is required")
            return None
        # bool is an int in Python but never a number in these payloads.
        if isinstance(value, bool) or not isinstance(value, kind):
            self.fault(key, f"must be {label}")
            return None
        return value


def raise_if_invalid(reader: Reader, what: str) -> None:
    """Raises InvalidWebhook naming every violation, if any."""
    if reader.violations:
        raise InvalidWebhook(f"the {what} payload is invalid", violations=reader.violations)
