"""Proto forms every connector shares: times, people, provenance, import batches, row errors and
webhook acknowledgements, and the request filters read from proto enums and timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

from google.api import httpbody_pb2
from google.protobuf import message, timestamp_pb2

from services.kit.connectors import imports
from services.kit.connectors.csvimport import RowError, error_csv
from services.kit.connectors.model import Channel, Person, Provenance
from services.kit.errors import FieldViolation, InvalidArgument
from teei.common.v1 import types_pb2

E = TypeVar("E")
CHANNELS = {Channel.CSV_IMPORT: types_pb2.INGEST_CHANNEL_CSV_IMPORT, Channel.WEBHOOK: types_pb2.INGEST_CHANNEL_WEBHOOK}
IMPORT_STATUSES = {
    imports.COMPLETED: types_pb2.IMPORT_STATUS_COMPLETED,
    imports.COMPLETED_WITH_ERRORS: types_pb2.IMPORT_STATUS_COMPLETED_WITH_ERRORS,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A proto timestamp of an aware datetime, or None (field left unset) when there is no time."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def person(value: Person) -> types_pb2.PersonRef:
    """A person reference; the profile id is resolved by consumers, not here."""
    return types_pb2.PersonRef(
        email=value.email, external_id=value.external_id, given_name=value.given_name, family_name=value.family_name
    )


def provenance(value: Provenance) -> types_pb2.Provenance:
    """Where a record's latest version came from."""
    return types_pb2.Provenance(
        channel=CHANNELS[value.channel],
        import_batch_id=value.batch_id,
        delivery_id=value.delivery_id,
        receive_time=timestamp(value.received_at),
    )


def import_batch(value: imports.Batch) -> types_pb2.ImportBatch:
    """The wire form of an import batch."""
    return types_pb2.ImportBatch(
        batch_id=value.batch_id,
        schema=value.schema,
        schema_version=value.schema_version,
        status=IMPORT_STATUSES.get(value.status, types_pb2.IMPORT_STATUS_UNSPECIFIED),
        rows_total=value.rows_total,
        rows_stored=value.rows_stored,
        rows_quarantined=value.rows_quarantined,
        create_time=timestamp(value.created_at),
    )


def row_error(error: RowError) -> types_pb2.RowError:
    """One rejected field of a row."""
    return types_pb2.RowError(row=error.row, field=error.field, message=error.message, value=error.value)


def error_report(errors: list[RowError]) -> httpbody_pb2.HttpBody:
    """A batch's error CSV as the body of GetImportErrors."""
    return httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=error_csv(errors))


def webhook_ack(delivery_id: str, *, duplicate: bool) -> types_pb2.WebhookAck:
    """The answer to a webhook delivery."""
    return types_pb2.WebhookAck(delivery_id=delivery_id, duplicate=duplicate)


def known(value: int, mapping: Mapping[int, E], field: str, *, invalid: type[InvalidArgument]) -> E | None:
    """The domain value of a proto enum filter: None when unset (0), `invalid` when not a known value."""
    if value == 0:
        return None
    if value not in mapping:
        raise invalid(f"{field} is not a known value", violations=[FieldViolation(field, "is not a known value")])
    return mapping[value]


def time_filter(request: message.Message, field: str) -> datetime | None:
    """The UTC time of an optional timestamp filter, None when unset."""
    if not request.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(request, field)
    return stamp.ToDatetime(tzinfo=UTC)
