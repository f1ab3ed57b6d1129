"""Strict reading of webhook JSON: size and syntax checks, then typed field access that collects a
violation per bad field (named by its path, e.g. `user.email`) instead of stopping at the first.

Fields a provider adds beyond the documented shape are ignored, so a provider's additions do not
break deliveries; every documented field is checked for type, length and range.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from services.kit.connectors import csvimport
from services.kit.errors import FieldViolation
from services.upskilling.domain.errors import InvalidWebhook
from services.upskilling.domain.model import ProgressStatus

MAX_BODY_BYTES = 1024 * 1024
MAX_ID = 255
MAX_NAME = 500
MAX_URL = 2000
MAX_METADATA_BYTES = 8 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
URL_PATTERN = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_STATUS_WORDS = {
    "enrolled": ProgressStatus.ENROLLED,
    "notstarted": ProgressStatus.ENROLLED,
    "inprogress": ProgressStatus.IN_PROGRESS,
    "started": ProgressStatus.IN_PROGRESS,
    "completed": ProgressStatus.COMPLETED,
    "dropped": ProgressStatus.DROPPED,
    "withdrawn": ProgressStatus.DROPPED,
}
T = TypeVar("T")


def load(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object; raises InvalidWebhook naming `body` for any file-level fault."""
    if not body:
        raise _body_error("is empty")
    if len(body) > MAX_BODY_BYTES:
        raise _body_error(f"is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _body_error("is not UTF-8") from None
    except ValueError as exc:
        raise _body_error(f"is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _body_error("must be a JSON object")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key means the signed bytes and the parsed value could disagree: refuse it.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _body_error(description: str) -> InvalidWebhook:
    return InvalidWebhook(f"the webhook body {description}", violations=[FieldViolation("body", description)])


class Fields:
    """Typed access to one JSON object; every fault is added to the shared violations list."""

    def __init__(self, data: Mapping[str, Any], *, prefix: str = "", violations: list[FieldViolation] | None = None):
        self._data = data
        self._prefix = prefix
        self.violations: list[FieldViolation] = [] if violations is None else violations

    def path(self, name: str) -> str:
        """The field's full path for error messages."""
        return f"{self._prefix}{name}"

    def fail(self, name: str, description: str) -> None:
        """Records a violation of one field."""
        self.violations.append(FieldViolation(self.path(name), description))

    def raise_if_invalid(self, message: str) -> None:
        """Raises InvalidWebhook with every violation collected so far."""
        if self.violations:
            raise InvalidWebhook(message, violations=self.violations)

    def _get(self, name: str, required: bool) -> Any:
        value = self._data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(name, "is required")
            return None
        return value

    def text(self, name: str, *, required: bool = False, max_length: int = MAX_ID) -> str:
        """A single-line string of bounded length, trimmed; empty when absent."""
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return ""
        value = value.strip()
        if len(value) > max_length:
            self.fail(name, f"must be at most {max_length} characters")
        elif _CONTROL.search(value):
            self.fail(name, "must not contain control characters")
        return value

    def identifier(self, name: str, *, required: bool = False) -> str:
        """A provider id: a string, or a whole number (some providers send numeric ids)."""
        value = self._data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(name, required=required)

    def email(self, name: str, *, required: bool = False) -> str:
        """An e-mail address, trimmed and lower-cased."""
        return self._parsed(self.text(name, required=required), name, csvimport.email) or ""

    def url(self, name: str) -> str:
        """An http(s) URL."""
        value = self.text(name, max_length=MAX_URL)
        if value and not URL_PATTERN.match(value):
            self.fail(name, "must be an http(s) URL")
        return value

    def timestamp(self, name: str, *, required: bool = False) -> datetime | None:
        """An ISO 8601 date-time (zone-less means UTC) or a YYYY-MM-DD date."""
        return self._parsed(self.text(name, required=required, max_length=64), name, csvimport.timestamp)

    def percent(self, name: str) -> float | None:
        """A number from 0 to 100."""
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            self.fail(name, "must be a number from 0 to 100")
            return None
        return float(value)

    def status(self, name: str, *, required: bool = False) -> ProgressStatus | None:
        """A progress status; spelling, case and separators of the providers' variants are accepted."""
        value = self.text(name, required=required, max_length=40)
        if not value:
            return None
        status = _STATUS_WORDS.get(re.sub(r"[\s_-]", "", value.lower()))
        if status is None:
            self.fail(name, "must be one of enrolled, in_progress, completed, dropped")
        return status

    def child(self, name: str, *, required: bool = False) -> Fields | None:
        """A nested object, read with the same violations list."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, "must be an object")
            return None
        return Fields(value, prefix=self.path(name) + ".", violations=self.violations)

    def json_object(self, name: str) -> dict[str, Any] | None:
        """A free-form object of bounded size (kept as provider metadata)."""
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, "must be an object")
            return None
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            self.fail(name, f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
            return None
        return value

    def _parsed(self, value: str, name: str, parse: Callable[[str], T]) -> T | None:
        if not value:
            return None
        try:
            return parse(value)
        except csvimport.FieldInvalid as exc:
            self.fail(name, str(exc))
            return None
