"""A bounded soak of `teei up` through the edge: measures a peak with a short burst, then holds half of it
(profile creates and reads) for `--minutes`, SIGKILLing one service every `--kill-every` minutes, and samples
throughput, errors by status, RSS (/proc/<pid>/status VmRSS) and open file descriptors per process. Flags an
unrestarted process whose RSS grows beyond the bound. Writes reports/soak.md (`make soak`).

    python -m tests.load.soak [--minutes 10] [--rate N] [--kill-every 2]"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.cli import spec
from tests.e2e.supervision import mesh_state, start_supervised

REPORT = spec.REPO_ROOT / "reports" / "soak.md"
WORKERS = 8
SAMPLE_SECONDS = 10.0
# An unrestarted process may grow this much from its first sample of the soak (warm: after the burst) to
# its last; more is flagged as a possible leak.
RSS_GROWTH_BOUND = 0.25
KILLED_IN_TURN = ("profile", "kintell", "q2q", "safety", "buddy", "upskilling", "gateway")


@dataclass
class Tally:
    """Answers by status (0: no answer), counted since the last `take`."""

    total: Counter[int] = field(default_factory=Counter)
    window: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.total[status] += 1
            self.window[status] += 1

    def take(self) -> Counter[int]:
        with self.lock:
            window, self.window = self.window, Counter()
            return window


@dataclass(frozen=True)
class Sample:
    """One sampling interval: seconds into the soak, answers by status, RSS (KiB) and fds per process."""

    at: float
    statuses: Counter[int]
    rss_kib: dict[str, int]
    fds: dict[str, int]
    pids: dict[str, int]


def request(client: httpx.Client, known: list[str]) -> int:
    """A profile create, or (every other call) a read of one created before; the status (0: no answer)."""
    try:
        if known and len(known) % 2:
            return client.get(f"/v1/profiles/{known[-1]}").status_code
        response = client.post("/v1/profiles", json={"email": f"s-{uuid.uuid4().hex[:12]}@example.org"})
    except httpx.HTTPError:
        return 0
    if response.status_code == 200:
        known.append(response.json()["profile"]["profile_id"])
    return response.status_code


def burst(edge_url: str, headers: dict[str, str], seconds: float) -> float:
    """Successful requests a second with WORKERS clients back to back for `seconds`: the peak."""
    tally, halt = Tally(), threading.Event()

    def work() -> None:
        known: list[str] = []
        with httpx.Client(base_url=edge_url, headers=headers, timeout=10.0) as client:
            while not halt.is_set():
                tally.add(request(client, known))

    threads = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    halt.wait(seconds)
    halt.set()
    for thread in threads:
        thread.join(15)
    return tally.total[200] / (time.monotonic() - started)


def paced(
    edge_url: str, headers: dict[str, str], rate: float, tally: Tally, halt: threading.Event
) -> list[threading.Thread]:
    """WORKERS clients sending `rate` requests a second between them (tickets on a schedule) until `halt`."""
    tickets: queue.Queue[float] = queue.Queue(maxsize=WORKERS * 4)

    def schedule() -> None:
        due = time.monotonic()
        while not halt.wait(max(0.0, due - time.monotonic())):
            try:
                tickets.put_nowait(due)
            except queue.Full:
                tally.add(-1)  # the clients fell behind the rate: counted, not queued without bound
            due += 1.0 / rate

    def work() -> None:
        known: list[str] = []
        with httpx.Client(base_url=edge_url, headers=headers, timeout=10.0) as client:
            while not halt.is_set():
                try:
                    tickets.get(timeout=0.5)
                except queue.Empty:
                    continue
                tally.add(request(client, known))

    threads = [threading.Thread(target=schedule, daemon=True)] + [
        threading.Thread(target=work, daemon=True) for _ in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    return threads


def proc_figures(pid: int) -> tuple[int, int]:
    """(VmRSS in KiB, open file descriptors) of `pid`; (0, 0) when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return 0, 0


def sample(var_dir: Path, at: float, tally: Tally) -> Sample:
    pids = {name: info["pid"] for name, info in mesh_state(var_dir)["resources"].items() if info["pid"]}
    figures = {name: proc_figures(pid) for name, pid in pids.items()}
    return Sample(at, tally.take(), {n: f[0] for n, f in figures.items()}, {n: f[1] for n, f in figures.items()}, pids)


def soak(minutes: float, rate: float | None, kill_every: float) -> str:
    """Runs the whole soak on a fresh mesh and returns the report."""
    with tempfile.TemporaryDirectory(prefix="teei-soak-") as folder:
        loop = {"crash_loop": {"exits": 20, "window_seconds": 60}}
        mesh = start_supervised(Path(folder), dict.fromkeys(KILLED_IN_TURN, loop))
        try:
            headers = mesh.auth("soak")
            peak = burst(mesh.edge_url, headers, seconds=15)
            target = rate or peak / 2
            print(f"peak {peak:.1f} req/s; soaking at {target:.1f} req/s for {minutes:g} min", flush=True)
            samples, kills = run(
                mesh.var_dir, mesh.edge_url, headers, rate=target, minutes=minutes, kill_every=kill_every
            )
        finally:
            mesh.stop()
    return render(peak, target, minutes=minutes, kill_every=kill_every, samples=samples, kills=kills)


def run(
    var_dir: Path, edge_url: str, headers: dict[str, str], *, rate: float, minutes: float, kill_every: float
) -> tuple[list[Sample], list[tuple[float, str]]]:
    tally, halt = Tally(), threading.Event()
    threads = paced(edge_url, headers, rate, tally, halt)
    started = time.monotonic()
    end, next_kill = started + minutes * 60, started + kill_every * 60
    samples, kills = [sample(var_dir, 0.0, tally)], list[tuple[float, str]]()
    while (now := time.monotonic()) < end:
        if now >= next_kill:
            name = KILLED_IN_TURN[len(kills) % len(KILLED_IN_TURN)]
            os.kill(mesh_state(var_dir)["resources"][name]["pid"], signal.SIGKILL)
            kills.append((now - started, name))
            print(f"{now - started:6.0f}s SIGKILL {name}", flush=True)
            next_kill += kill_every * 60
        halt.wait(min(SAMPLE_SECONDS - (now - started) % SAMPLE_SECONDS, next_kill - now, end - now))
        if (time.monotonic() - started) // SAMPLE_SECONDS > samples[-1].at // SAMPLE_SECONDS:
            samples.append(sample(var_dir, time.monotonic() - started, tally))
            print(f"{samples[-1].at:6.0f}s {dict(samples[-1].statuses)}", flush=True)
    halt.set()
    for thread in threads:
        thread.join(15)
    if time.monotonic() - started - samples[-1].at >= 1.0:  # a last, partial interval
        samples.append(sample(var_dir, time.monotonic() - started, tally))
    return samples, kills


def render(
    peak: float,
    rate: float,
    *,
    minutes: float,
    kill_every: float,
    samples: list[Sample],
    kills: list[tuple[float, str]],
) -> str:
    """reports/soak.md: settings, throughput and errors per interval, RSS and fds per process, flags."""
    totals: Counter[int] = sum((s.statuses for s in samples), Counter())
    seconds = samples[-1].at
    lines = [
        "# Soak",
        "",
        f"`python -m tests.load.soak --minutes {minutes:g} --kill-every {kill_every:g}`: peak {peak:.1f} req/s "
        f"({WORKERS} clients back to back for 15 s, half creates and half reads of profiles through the edge), soak at "
        f"{rate:.1f} req/s for {seconds:.0f} s; SIGKILL of {_kills(kills)}.",
        "",
        f"Answers: {', '.join(f'{_label(s)} {n}' for s, n in sorted(totals.items()))}; "
        f"throughput {totals[200] / seconds:.1f} ok/s.",
        "",
        "| t (s) | ok/s | errors by status |",
        "|---|---|---|",
    ]
    previous = 0.0
    for s in samples[1:]:
        errors = ", ".join(f"{_label(k)} {v}" for k, v in sorted(s.statuses.items()) if k != 200) or "-"
        lines.append(f"| {s.at:.0f} | {s.statuses[200] / max(s.at - previous, 0.001):.1f} | {errors} |")
        previous = s.at
    lines += ["", *memory_table(samples)]
    return "\n".join(lines) + "\n"


def _kills(kills: list[tuple[float, str]]) -> str:
    return ", ".join(f"{name} at {at:.0f} s" for at, name in kills) or "none"


def _label(status: int) -> str:
    return {0: "no answer", -1: "behind schedule"}.get(status, str(status))


def memory_table(samples: list[Sample]) -> list[str]:
    """RSS and fds per process, first and last sample of its current pid, and the growth flag."""
    first, last = samples[0], samples[-1]
    rows = [
        f"RSS growth bound: an unrestarted process may grow at most {RSS_GROWTH_BOUND:.0%} from its first sample",
        "(taken after the peak burst) to its last; a restarted process is compared from its first sample under "
        "its new pid.",
        "",
        "| process | restarted | RSS MiB first → last | growth | fds first → last | RSS MiB over time | flag |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in last.rss_kib:
        mine = [s for s in samples if s.pids.get(name) == last.pids[name]]
        start = mine[0]
        growth = last.rss_kib[name] / max(start.rss_kib[name], 1) - 1
        flag = "**leak?**" if growth > RSS_GROWTH_BOUND else "ok"
        over_time = " ".join(f"{s.rss_kib.get(name, 0) / 1024:.0f}" for s in samples)
        rows.append(
            f"| {name} | {'yes' if first.pids.get(name) != last.pids[name] else 'no'} "
            f"| {start.rss_kib[name] / 1024:.1f} → {last.rss_kib[name] / 1024:.1f} | {growth:+.1%} "
            f"| {start.fds[name]} → {last.fds[name]} | {over_time} | {flag} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (bounded: at most 60)")
    parser.add_argument("--rate", type=float, default=None, help="requests a second (default: half the peak)")
    parser.add_argument("--kill-every", type=float, default=2.0, help="minutes between service SIGKILLs")
    args = parser.parse_args()
    if not 0 < args.minutes <= 60 or args.kill_every <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--minutes must be in (0, 60], --kill-every and --rate above 0")
    report = soak(args.minutes, args.rate, args.kill_every)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
