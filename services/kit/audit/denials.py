"""Refused calls in the service's audit log: a role lacking the RPC's permission, another company's record,
a mesh peer the trust policy does not allow. Each is attributed to its proven caller (never anonymous: an
unproven caller could flood the log) and appended in a short transaction of its own, not the request's.

The first denial of a kind (same actor, tenant, resource, RPC and reason) is recorded at once; identical
denials in the next `window` seconds are only counted, and recorded as one record with their count when
the window closes. At most `max_kinds` kinds are open at a time; beyond that, denials are counted together
and recorded as one record per window. So a flood of refusals costs a bounded number of writes per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.kit import errors
from services.kit.audit import actors
from services.kit.audit.records import Actor, ActorKind, AuditEntry, Outcome
from services.kit.audit.trail import AuditLog
from services.kit.clock import Clock, EpochClock, utc_now
from services.kit.logs import get_logger
from services.kit.security import tenancy

log = get_logger(__name__)
ACTION = "access.denied"
# Who the overflow record (denials of kinds beyond `max_kinds`) is attributed to: many callers at once.
OVERFLOW = Actor(ActorKind.SYSTEM, "audit:denials-overflow")


@dataclass(frozen=True)
class Denial:
    """One refused call: the proven caller, the company concerned, what was refused (a record, else the RPC)
    and the refusal's reason; `caller_tenant` when the company concerned is not the caller's own."""

    actor: Actor
    tenant: str | None
    resource: str
    rpc: str
    reason: str
    answered: str
    caller_tenant: str | None = None
    message: str = field(default="", compare=False)
    # The refusal's own metadata (the permission lacked, NO_TENANT...), as (key, value) pairs.
    detail: tuple[tuple[str, str], ...] = ()


class Recorder(Protocol):
    """Where the interceptors hand refusals: DenialLog."""

    async def record(self, denial: Denial) -> None: ...


def of(error: errors.DomainError, *, rpc: str, actor: Actor | None = None) -> Denial | None:
    """The refusal `error` of the call in progress, attributed to `actor` or else the call's proven caller;
    None when nobody is proven (an anonymous refusal stays in the logs)."""
    actor = actor or actors.current()
    if actor.kind is ActorKind.ANONYMOUS:
        return None
    caller = _caller_tenant()
    message, detail = error.message[:300], tuple(sorted(error.metadata.items()))
    if isinstance(error, errors.Concealed):
        other = caller if caller != error.tenant else None
        return Denial(actor, error.tenant, error.resource, rpc, error.reason, "NOT_FOUND", other, message, detail)
    return Denial(actor, caller, f"rpc:{rpc}", rpc, error.reason, "PERMISSION_DENIED", None, message, detail)


def refused(error: Exception) -> bool:
    """Whether `error` refuses the caller access (and so is recorded as a denial)."""
    return isinstance(error, errors.PermissionDenied | errors.Concealed)


@dataclass
class _Burst:
    """An open window of one kind of denial: its first record and the repeats counted since."""

    opened: float
    first_at: datetime
    first_sequence: int | None
    repeats: int = 0
    last_at: datetime | None = None
    last_request_id: str = ""


class DenialLog:
    """Records denials in `audit` (the service's AuditLog), identical ones summed per window."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        window: float = 60.0,
        max_kinds: int = 200,
        clock: EpochClock = time.monotonic,
        wall: Clock = utc_now,
    ) -> None:
        self._audit, self.window, self.max_kinds = audit, window, max_kinds
        self._clock, self._wall = clock, wall
        self._open: dict[Denial, _Burst] = {}
        self._overflow: _Burst | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, denial: Denial) -> None:
        """The first of its kind in the window is appended now; a repeat is counted. Never raises: a
        failed append is logged, and the caller is refused all the same."""
        await self.close_due()
        now, at = self._clock(), self._wall()
        burst = self._open.get(denial)
        if burst is not None:
            self._repeat(burst, at)
            return
        if len(self._open) >= self.max_kinds:
            self._overflow = self._overflow or _Burst(now, at, None)
            self._repeat(self._overflow, at)
            return
        burst = self._open[denial] = _Burst(now, at, None)
        burst.first_sequence = await self._append(_entry(denial, {"count": 1}))

    async def close_due(self) -> None:
        """Records the counts of every window that has closed."""
        now = self._clock()
        for denial, burst in list(self._open.items()):
            if now - burst.opened >= self.window:
                del self._open[denial]
                await self._summarise(denial, burst)
        if self._overflow is not None and now - self._overflow.opened >= self.window:
            await self._summarise(None, self._overflow)
            self._overflow = None

    async def flush(self) -> None:
        """Records every count still open (at stop)."""
        bursts, overflow = list(self._open.items()), self._overflow
        self._open, self._overflow = {}, None
        for denial, burst in bursts:
            await self._summarise(denial, burst)
        if overflow is not None:
            await self._summarise(None, overflow)

    def start(self) -> None:
        """Closes windows in the background, so a burst's count is recorded even if no denial follows it."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-denials")

    async def stop(self) -> None:
        """Stops the background task and records what is still counted."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.window / 2)
            await self.close_due()

    def _repeat(self, burst: _Burst, at: datetime) -> None:
        burst.repeats += 1
        burst.last_at, burst.last_request_id = at, actors.request_id()

    async def _summarise(self, denial: Denial | None, burst: _Burst) -> None:
        if not burst.repeats:
            return
        after: dict[str, object] = {
            "count": burst.repeats,
            "first_at": burst.first_at,
            "last_at": burst.last_at,
            "last_request_id": burst.last_request_id,
            "window_seconds": self.window,
        }
        if denial is None:
            after["kinds_over"] = self.max_kinds
            entry = AuditEntry(ACTION, "rpc:*", None, Outcome.DENIED, after=after, actor=OVERFLOW)
        else:
            entry = _entry(denial, after | {"repeats_of": burst.first_sequence})
        await self._append(entry)

    async def _append(self, entry: AuditEntry) -> int | None:
        try:
            record = await asyncio.to_thread(self._audit.record, entry)
        except Exception:  # the refusal stands whether or not its record could be written
            log.exception("audit.denial_not_recorded", action=entry.action, resource=entry.resource)
            return None
        return record.sequence


def _entry(denial: Denial, counts: dict[str, object]) -> AuditEntry:
    after: dict[str, object] = {"rpc": denial.rpc, "reason": denial.reason, "answered": denial.answered}
    if denial.message:
        after["message"] = denial.message
    if denial.detail:
        after["detail"] = dict(denial.detail)
    if denial.caller_tenant is not None:
        after["caller_tenant"] = denial.caller_tenant
    return AuditEntry(
        action=ACTION,
        resource=denial.resource,
        tenant=denial.tenant,
        outcome=Outcome.DENIED,
        after=after | counts,
        actor=denial.actor,
    )


def _caller_tenant() -> str | None:
    caller = tenancy.current_service_caller()
    try:
        return tenancy.current_principal().tenant
    except errors.Unauthenticated:
        return None if caller is None else caller.tenant
