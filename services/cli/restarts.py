"""What the supervisor does when a process exits: restart it after a back-off, or leave it down (its
policy says so, or it is crash-looping); and when a live process stops answering its health check: kill
it. Pure decisions over the exit and probe history; the caller owns the clock."""

from __future__ import annotations

import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from services.cli.spec import LivenessProbe, RestartPolicy
from services.kit import backoff


@dataclass(frozen=True)
class Restart:
    """Start the process again after `delay` seconds; `attempt` exits fell within the crash-loop window."""

    delay: float
    attempt: int


@dataclass(frozen=True)
class StayDown:
    """Leave the process down: `crash_loop` (too many exits in the window) or `exited` (its policy)."""

    state: Literal["crash_loop", "exited"]
    reason: str


Decision = Restart | StayDown


@dataclass(frozen=True)
class ExitHistory:
    """When a process exited (monotonic seconds), oldest first, only as far back as anyone asks."""

    times: tuple[float, ...] = ()

    def record(self, at: float, *, window: float) -> ExitHistory:
        """This history plus an exit `at`, forgetting exits older than `window` before it."""
        return ExitHistory((*(t for t in self.times if at - t < window), at))

    def within(self, window: float, *, now: float) -> int:
        """How many exits happened less than `window` seconds before `now`."""
        return sum(1 for t in self.times if now - t < window)


def describe_exit(code: int) -> str:
    """`exit code 3` or `signal SIGKILL` (Popen reports death by signal N as -N)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def decide(
    policy: RestartPolicy,
    *,
    code: int,
    history: ExitHistory,
    now: float,
    rng: Callable[[], float] = random.random,
) -> Decision:
    """What to do about an exit with `code` at `now`; `history` already holds this exit."""
    if policy.policy == "Never" or (policy.policy == "OnFailure" and code == 0):
        return StayDown("exited", f"{describe_exit(code)}; restart_policy {policy.policy}")
    window = policy.crash_loop.window_seconds
    exits = history.within(window, now=now)
    if exits >= policy.crash_loop.exits:
        return StayDown("crash_loop", f"crash loop: {exits} exits within {window:g}s, last {describe_exit(code)}")
    # Equal jitter: never sooner than half the ceiling, so a crash loop cannot spin; the first restart
    # comes within `base_seconds`.
    delay = backoff.delay(exits, base=policy.backoff.base_seconds, cap=policy.backoff.cap_seconds, floor=0.5, rng=rng)
    return Restart(delay=delay, attempt=exits)


@dataclass(frozen=True)
class Liveness:
    """Failed health checks in a row of one process since it was last healthy, and when the first failed."""

    failures: int = 0
    since: float | None = None


def judge(probe: LivenessProbe, state: Liveness, *, healthy: bool, now: float) -> tuple[Liveness, str | None]:
    """The state after one health check at `now`, and a reason to kill the process when it has failed
    `failure_threshold` checks in a row (None while it may still recover)."""
    if healthy:
        return Liveness(), None
    since = now if state.since is None else state.since
    failed = Liveness(state.failures + 1, since)
    if failed.failures < probe.failure_threshold:
        return failed, None
    return Liveness(), f"unresponsive: {failed.failures} health checks failed in a row over {now - since:.1f}s"
