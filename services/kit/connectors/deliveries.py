"""Webhook deliveries: which id keys a delivery, and how a replay of it is told from a conflict."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.kit.errors import Conflict, FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Ack:
    """What a delivery did: its id, and whether it was a replay that stored and emitted nothing."""

    delivery_id: str
    duplicate: bool = False


def digest(body: bytes) -> str:
    """The SHA-256 of a delivery's exact bytes, kept to tell a replay from a reused id."""
    return hashlib.sha256(body).hexdigest()


def delivery_id(signed: str, in_body: str, *, invalid: type[InvalidArgument]) -> str:
    """The id a delivery is keyed by: its signed webhook-id, else (handed over in-process) the body's own."""
    if signed or in_body:
        return signed or in_body
    raise invalid(
        "an unsigned delivery must name its delivery_id",
        violations=[FieldViolation("delivery_id", "is required without a signed webhook-id")],
    )


def replayed(seen: str | None, body_digest: str, delivery_id: str, *, conflict: type[Conflict]) -> bool:
    """Whether a delivery was received before (`seen` is the digest it came with then, if any);
    the same id with other bytes raises `conflict`: a delivery is never applied twice, nor silently."""
    if seen is not None and seen != body_digest:
        raise conflict(
            "this webhook-id was already received with a different payload",
            metadata={"delivery_id": delivery_id},
            violations=[FieldViolation("webhook-id", "already used for a different payload")],
        )
    return seen is not None
