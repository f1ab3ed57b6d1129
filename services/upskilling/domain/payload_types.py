"""Field types and cross-field checks of the providers' webhook payloads (rules as in the CSV columns)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict

from services.kit.connectors import fields, payloads
from services.kit.connectors.cells import FieldInvalid
from services.kit.connectors.payloads import Payload
from services.upskilling.domain.model import Delivery, ProgressStatus

MAX_ID = 255
MAX_NAME = 500
MAX_URL = 2000
MAX_METADATA_BYTES = 8 * 1024
URL_PATTERN = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUS_WORDS = {
    "enrolled": ProgressStatus.ENROLLED,
    "notstarted": ProgressStatus.ENROLLED,
    "inprogress": ProgressStatus.IN_PROGRESS,
    "started": ProgressStatus.IN_PROGRESS,
    "completed": ProgressStatus.COMPLETED,
    "dropped": ProgressStatus.DROPPED,
    "withdrawn": ProgressStatus.DROPPED,
}


def single_line(max_length: int) -> AfterValidator:
    """Trimmed text of at most `max_length` characters, without control characters."""

    def check(value: str) -> str:
        value = value.strip()
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        if _CONTROL.search(value):
            raise FieldInvalid("must not contain control characters")
        return value

    return AfterValidator(check)


def _numeric_id(value: object) -> object:
    # Some providers send numeric ids; a bool is not one.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def url(value: str) -> str:
    """An http(s) URL."""
    if not URL_PATTERN.match(value):
        raise FieldInvalid("must be an http(s) URL")
    return value


def status_word(value: object) -> object:
    """A progress status; the providers' spellings, cases and separators are accepted."""
    if not isinstance(value, str):
        return value
    status = _STATUS_WORDS.get(re.sub(r"[\s_-]", "", value.lower()))
    if status is None:
        raise FieldInvalid("must be one of enrolled, in_progress, completed, dropped")
    return status


def one_of(*allowed: str) -> AfterValidator:
    """A word from a fixed list (exact spelling)."""

    def check(value: str) -> str:
        if value not in allowed:
            raise FieldInvalid(f"must be one of {', '.join(allowed)}")
        return value

    return AfterValidator(check)


Line = Annotated[str, single_line(MAX_ID)]
Identifier = Annotated[str, BeforeValidator(_numeric_id), single_line(MAX_ID)]
Name = Annotated[str, single_line(200)]
CourseName = Annotated[str, single_line(MAX_NAME)]
Email = Annotated[str, single_line(MAX_ID), fields.EMAIL]
Url = Annotated[str, single_line(MAX_URL), AfterValidator(url)]
When = Annotated[datetime, fields.TIMESTAMP]
Percent = Annotated[float, fields.within(0, 100)]
Status = Annotated[ProgressStatus, BeforeValidator(status_word)]
Metadata = Annotated[dict[str, object], fields.json_at_most(MAX_METADATA_BYTES)]


class ProviderPayload(Payload):
    """A provider's payload: documented fields checked strictly, undocumented ones ignored."""

    model_config = ConfigDict(extra="ignore")

    def delivery(self) -> Delivery:
        """The normalised delivery."""
        raise NotImplementedError


def check_dates(started: datetime | None, completed: datetime | None, *, start: str, end: str) -> None:
    """A completion may not precede the start."""
    if started and completed and completed < started:
        raise payloads.fault(f"must not be before {start}", field=end)


def check_status(given: ProgressStatus | None, implied: ProgressStatus | None, event_type: str, *, at: str) -> None:
    """An explicit status may not contradict the one the event type implies."""
    if given is not None and implied is not None and given is not implied:
        raise payloads.fault(f"{given} contradicts the event type {event_type}", field=at)


def check_learner(email: str, external_id: str, *, email_field: str, id_field: str) -> None:
    """A learner needs an e-mail or the provider's user id."""
    if not email and not external_id:
        raise payloads.fault(f"is required when {id_field} is absent", field=email_field)
