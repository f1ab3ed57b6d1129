"""Verification of one database's audit log: the chain record by record, then every checkpoint.

The first bad record is named: an edited record fails its own hash; a deleted one leaves a gap in the
sequence; a reordered one fails its hash (the sequence is hashed); a record rewritten with every later
hash recomputed contradicts the first checkpoint after it; a dropped tail contradicts the last one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from services.kit.audit.checkpoints import Checkpoint, Signature, Verifier
from services.kit.audit.records import GENESIS, AuditRecord
from services.kit.audit.tables import checkpoints, records

BATCH = 1000


@dataclass(frozen=True)
class Problem:
    """The first record found bad, and why."""

    sequence: int
    reason: str


@dataclass(frozen=True)
class Report:
    """What verification found: how many records and checkpoints it checked, and the first problem if any."""

    records: int
    checkpoints: int
    head: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        """True when the whole log verified."""
        return self.problem is None


def verify(connection: sa.Connection, verifier: Verifier) -> Report:
    """Walks the chain in sequence order, then checks each checkpoint against it."""
    hashes: dict[int, str] = {}
    expected, previous, count = 1, GENESIS, 0
    for record in _records(connection):
        problem = _check(record, expected, previous)
        if problem is not None:
            return Report(count, 0, previous, problem)
        hashes[record.sequence] = record.hash
        expected, previous, count = record.sequence + 1, record.hash, count + 1
    signed = 0
    for checkpoint in _checkpoints(connection):
        problem = _check_checkpoint(checkpoint, hashes, verifier)
        if problem is not None:
            return Report(count, signed, previous, problem)
        signed += 1
    return Report(count, signed, previous, None)


def _check(record: AuditRecord, expected: int, previous: str) -> Problem | None:
    if record.sequence != expected:
        return Problem(expected, f"record {expected} is missing (the next record present is {record.sequence})")
    if record.prev_hash != previous:
        reason = f"record {record.sequence} does not chain to record {record.sequence - 1} (prev_hash differs)"
        return Problem(record.sequence, reason)
    try:
        computed = record.computed_hash()
    except (ValueError, TypeError):
        return Problem(record.sequence, f"record {record.sequence} was edited (its diff is not JSON)")
    if computed != record.hash:
        return Problem(record.sequence, f"record {record.sequence} was edited or moved (its hash does not match)")
    return None


def _check_checkpoint(checkpoint: Checkpoint, hashes: dict[int, str], verifier: Verifier) -> Problem | None:
    sequence = checkpoint.sequence
    if not verifier.verify(checkpoint.payload(), checkpoint.signature):
        return Problem(sequence, f"checkpoint at record {sequence} has an invalid signature")
    found = hashes.get(sequence)
    if found is None:
        return Problem(sequence, f"record {sequence}, signed by a checkpoint, is missing (the log was truncated)")
    if found != checkpoint.record_hash:
        reason = f"record {sequence} differs from its signed checkpoint (records up to it were rewritten)"
        return Problem(sequence, reason)
    return None


def _records(connection: sa.Connection) -> Iterator[AuditRecord]:
    after = 0
    while True:
        query = sa.select(records).where(records.c.sequence > after).order_by(records.c.sequence).limit(BATCH)
        batch = [AuditRecord(**row) for row in connection.execute(query).mappings()]
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].sequence


def _checkpoints(connection: sa.Connection) -> Iterator[Checkpoint]:
    for row in connection.execute(sa.select(checkpoints).order_by(checkpoints.c.sequence)).mappings():
        signature = Signature(row["key_id"], row["algorithm"], row["signature"])
        yield Checkpoint(row["sequence"], row["record_hash"], row["signed_at"], signature)
