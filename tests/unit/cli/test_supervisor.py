"""The supervisor's decisions on an exit: restart or stay down by policy, back-off growth and jitter bounds,
crash-loop detection within its window (a fake clock: exit times are plain numbers)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from services.cli.restarts import ExitHistory, Liveness, Restart, StayDown, decide, describe_exit, judge
from services.cli.spec import CrashLoop, LivenessProbe, RestartBackoff, RestartPolicy, SpecError, load

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


def _probe(*, period: float = 5.0, threshold: int = 3) -> LivenessProbe:
    return LivenessProbe.model_validate({"period_seconds": period, "failure_threshold": threshold})


def _run_checks(probe: LivenessProbe, results: list[tuple[float, bool]]) -> list[str | None]:
    state, verdicts = Liveness(), []
    for at, healthy in results:
        state, reason = judge(probe, state, healthy=healthy, now=at)
        verdicts.append(reason)
    return verdicts


def test_a_process_failing_the_threshold_of_checks_in_a_row_is_killed() -> None:
    verdicts = _run_checks(_probe(threshold=3), [(0.0, True), (5.0, False), (10.0, False), (15.0, False)])
    assert verdicts[:3] == [None, None, None]
    assert verdicts[3] == "unresponsive: 3 health checks failed in a row over 10.0s"


def test_one_healthy_check_starts_the_count_over() -> None:
    checks = [(0.0, False), (5.0, False), (10.0, True), (15.0, False), (20.0, False)]
    assert _run_checks(_probe(threshold=3), checks) == [None] * 5


def test_after_a_kill_the_count_starts_over() -> None:
    verdicts = _run_checks(_probe(threshold=2), [(0.0, False), (1.0, False), (2.0, False), (3.0, False)])
    assert [v is not None for v in verdicts] == [False, True, False, True]


def test_default_liveness_tolerates_two_missed_checks_and_acts_within_fifteen_seconds() -> None:
    probe = LivenessProbe()
    assert (probe.period_seconds, probe.timeout_seconds, probe.failure_threshold) == (5.0, 1.0, 3)
    assert probe.period_seconds * probe.failure_threshold <= 15.0


def _spec_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "tilt.yaml"
    path.write_text(
        f"resources:\n  - name: a\n    kind: grpc\n    port: 1\n    cmd: [x]\n    health: {{grpc: a}}\n    {extra}\n"
    )
    return path


def test_liveness_is_read_per_resource_from_tilt_yaml(tmp_path: Path) -> None:
    (resource,) = load(_spec_with(tmp_path, "liveness: {period_seconds: 1, failure_threshold: 2}"))
    assert resource.liveness == LivenessProbe(period_seconds=1, failure_threshold=2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("liveness: {period_seconds: 0}", r"resource a: liveness\.period_seconds: Input should be greater"),
        ("liveness: {failure_threshold: 0}", r"resource a: liveness\.failure_threshold: Input should be greater"),
        ("liveness: {timeout_seconds: 0}", r"resource a: liveness\.timeout_seconds: Input should be greater"),
        ("liveness: {initial_delay_seconds: 1}", r"resource a: liveness\.initial_delay_seconds: Extra inputs"),
    ],
)
def test_bad_liveness_settings_are_refused_naming_the_resource_and_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        load(_spec_with(tmp_path, extra))
