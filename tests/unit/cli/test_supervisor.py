"""The supervisor's decisions on an exit: restart or stay down by policy, back-off growth and jitter bounds,
crash-loop detection within its window (a fake clock: exit times are plain numbers)."""

from __future__ import annotations

import signal

import pytest

from services.cli.restarts import ExitHistory, Restart, StayDown, decide, describe_exit
from services.cli.spec import CrashLoop, RestartBackoff, RestartPolicy

KILLED = -signal.SIGKILL
LOW, HIGH = (lambda: 0.0), (lambda: 0.999999)


def _policy(
    policy: str = "Always", *, base: float = 1.0, cap: float = 8.0, exits: int = 5, window: float = 60.0
) -> RestartPolicy:
    return RestartPolicy.model_validate(
        {
            "policy": policy,
            "backoff": {"base_seconds": base, "cap_seconds": cap},
            "crash_loop": {"exits": exits, "window_seconds": window},
        }
    )


def _exits(*times: float, window: float = 60.0) -> ExitHistory:
    history = ExitHistory()
    for at in times:
        history = history.record(at, window=window)
    return history


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "exit code 0"),
        (3, "exit code 3"),
        (KILLED, "signal SIGKILL"),
        (-signal.SIGTERM, "signal SIGTERM"),
        (-99, "signal 99"),
    ],
)
def test_exits_are_described_by_code_or_signal_name(code: int, text: str) -> None:
    assert describe_exit(code) == text


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("Always", KILLED, True),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("OnFailure", KILLED, True),
        ("Never", 0, False),
        ("Never", KILLED, False),
    ],
)
def test_restart_policy_decides_which_exits_are_restarted(policy: str, code: int, restarts: bool) -> None:
    decision = decide(_policy(policy), code=code, history=_exits(100.0), now=100.0)
    assert isinstance(decision, Restart) is restarts
    if not restarts:
        assert decision == StayDown("exited", f"{describe_exit(code)}; restart_policy {policy}")


def test_back_off_doubles_from_base_to_cap_with_equal_jitter() -> None:
    """The n-th exit within the window waits between half and all of min(cap, base * 2^(n-1))."""
    policy = _policy(base=1.0, cap=4.0, exits=10)
    times = [10.0 * i for i in range(1, 6)]
    for count, ceiling in enumerate([1.0, 2.0, 4.0, 4.0, 4.0], start=1):
        history = _exits(*times[:count])
        low = decide(policy, code=KILLED, history=history, now=times[count - 1], rng=LOW)
        high = decide(policy, code=KILLED, history=history, now=times[count - 1], rng=HIGH)
        assert low == Restart(delay=ceiling / 2, attempt=count)
        assert isinstance(high, Restart)
        assert ceiling / 2 < high.delay < ceiling


def test_first_restart_comes_within_the_base_delay() -> None:
    decision = decide(RestartPolicy(), code=KILLED, history=_exits(5.0), now=5.0)
    assert isinstance(decision, Restart)
    assert RestartBackoff().base_seconds / 2 <= decision.delay < RestartBackoff().base_seconds


def test_the_fifth_exit_within_the_window_is_a_crash_loop_and_stays_down() -> None:
    policy = _policy(exits=5, window=60.0)
    history = _exits(0.0, 10.0, 20.0, 30.0)
    assert isinstance(decide(policy, code=KILLED, history=history, now=30.0), Restart)
    history = history.record(59.0, window=60.0)
    decision = decide(policy, code=KILLED, history=history, now=59.0)
    assert decision == StayDown("crash_loop", "crash loop: 5 exits within 60s, last signal SIGKILL")


def test_exits_older_than_the_window_are_forgotten_and_the_back_off_starts_over() -> None:
    """Five exits, but the first fell out of the window by the fifth: restarted, as the fourth in a row."""
    policy = _policy(exits=5, window=60.0, base=1.0)
    history = _exits(0.0, 10.0, 20.0, 30.0, 60.0)
    assert history.times == (10.0, 20.0, 30.0, 60.0)
    assert decide(policy, code=1, history=history, now=60.0, rng=LOW) == Restart(delay=4.0, attempt=4)
    calm = history.record(200.0, window=60.0)
    assert decide(policy, code=1, history=calm, now=200.0, rng=LOW) == Restart(delay=0.5, attempt=1)


def test_crash_loop_counts_clean_exits_too_under_always() -> None:
    policy = _policy(exits=2, window=10.0)
    decision = decide(policy, code=0, history=_exits(1.0, 2.0, window=10.0), now=2.0)
    assert decision == StayDown("crash_loop", "crash loop: 2 exits within 10s, last exit code 0")


def test_default_policy_mirrors_kubernetes_always_and_stays_within_the_readiness_budget() -> None:
    """Defaults: Always, 0.5 s doubling to 10 s, five exits in a minute; four restarts in a row wait < 15 s in all."""
    policy = RestartPolicy()
    assert (policy.policy, policy.crash_loop) == ("Always", CrashLoop(exits=5, window_seconds=60.0))
    waits = [decide(policy, code=KILLED, history=_exits(*range(n)), now=n - 1, rng=HIGH) for n in range(1, 5)]
    assert all(isinstance(w, Restart) for w in waits)
    assert sum(w.delay for w in waits if isinstance(w, Restart)) < 15.0
