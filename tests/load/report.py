"""The bench's reports: reports/perf_baseline.json (figures per backend and scenario), .md (tables, the
target ratios) and .png (throughput against VUs per scenario)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.load.k6run import Result

# Backend -> scenario -> one result per VU count measured (ascending).
Sweeps = Mapping[str, Mapping[str, Sequence[Result]]]

# (scenario, reference, target ratio, what it says)
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("profile_get_edge", "envoy_ceiling", 0.10),
    ("profile_get_edge", "profile_get_direct", 0.85),
    ("profile_get_edge", "trivial_edge", 0.70),
)
WEBHOOK_TARGET = 500.0
WEBHOOK_LAG_TARGET_MS = 1000.0
Q2Q_TARGET_PER_CORE = 5000.0
CSV_TARGET = 0.05


def headline(results: Sequence[Result]) -> Result:
    """The figure a scenario is reported by: its highest throughput over the VU counts measured without an
    error (answers that failed are not throughput), else its highest throughput."""
    return max(results, key=lambda r: (r.errors == 0, r.rps))


def as_json(sweeps: Sweeps, extras: Mapping[str, Mapping[str, float]]) -> dict[str, object]:
    """`{"backend": {name: {"scenarios": {scenario: {rps, p50_ms, p95_ms, p99_ms, errors}}}}}` plus the sweep."""
    backends: dict[str, object] = {}
    for backend, scenarios in sweeps.items():
        backends[backend] = {
            "scenarios": {
                name: {
                    **headline(results).as_json(),
                    "vus": headline(results).vus,
                    "sweep": [{"vus": r.vus, **r.as_json()} for r in results],
                }
                for name, results in scenarios.items()
            },
            "extra": dict(extras.get(backend, {})),
        }
    return {"backend": backends}


def _ratio(scenarios: Mapping[str, Sequence[Result]], name: str, reference: str) -> float | None:
    if name not in scenarios or reference not in scenarios:
        return None
    return headline(scenarios[name]).rps / headline(scenarios[reference]).rps


def markdown(sweeps: Sweeps, extras: Mapping[str, Mapping[str, float]], *, settings: str, plot: str) -> str:
    """The human report: per backend a table of scenarios and the targets with their ratios."""
    lines = ["# Performance baseline", "", settings, "", f"![throughput against VUs]({plot})", ""]
    for backend, scenarios in sweeps.items():
        lines += [
            f"## {backend}",
            "",
            "| scenario | VUs | throughput/s | p50 ms | p95 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, results in scenarios.items():
            best = headline(results)
            lines.append(
                f"| {name} | {best.vus} | {best.rps:,.0f} | {best.p50_ms:.1f} | {best.p95_ms:.1f} | "
                f"{best.p99_ms:.1f} | {best.errors} |"
            )
        lines += ["", "| target | measured | goal | met |", "|---|---|---|---|"]
        for name, reference, goal in TARGETS:
            ratio = _ratio(scenarios, name, reference)
            if ratio is not None:
                lines.append(f"| {name} / {reference} | {ratio:.3f} | ≥ {goal} | {'yes' if ratio >= goal else 'no'} |")
        extra = extras.get(backend, {})
        if "csv_module_rows_per_s" in extra and "kintell_csv_50k" in scenarios:
            ratio = headline(scenarios["kintell_csv_50k"]).rps / extra["csv_module_rows_per_s"]
            lines.append(
                f"| kintell_csv_50k / csv module ({extra['csv_module_rows_per_s']:,.0f} rows/s) | "
                f"{ratio:.4f} | ≥ {CSV_TARGET} | {'yes' if ratio >= CSV_TARGET else 'no'} |"
            )
        if "webhook_ingest" in scenarios:
            best = headline(scenarios["webhook_ingest"])
            met = best.rps >= WEBHOOK_TARGET and best.errors == 0
            lines.append(
                f"| webhook_ingest applied/s (errors = refused + lost + doubled) | {best.rps:,.0f} "
                f"(errors {best.errors}) | ≥ {WEBHOOK_TARGET:.0f}, 0 errors | {'yes' if met else 'no'} |"
            )
        if "webhook_source_to_profile_p99_ms" in extra:
            lag = extra["webhook_source_to_profile_p99_ms"]
            lines.append(
                f"| webhook_ingest p99 source to profile (accepted → applied), ms | {lag:,.0f} | "
                f"< {WEBHOOK_LAG_TARGET_MS:,.0f} | {'yes' if lag < WEBHOOK_LAG_TARGET_MS else 'no'} |"
            )
        for name, key in (
            ("q2q_classify", "q2q_texts_per_cpu_s"),
            ("q2q_classify_single", "q2q_single_texts_per_cpu_s"),
        ):
            if key in extra:
                per_core = extra[key]
                lines.append(
                    f"| {name} texts per CPU-second of the q2q process | {per_core:,.0f} | "
                    f"≥ {Q2Q_TARGET_PER_CORE:.0f} | {'yes' if per_core >= Q2Q_TARGET_PER_CORE else 'no'} |"
                )
        lines.append("")
    return "\n".join(lines)


def plot(sweeps: Sweeps, path: Path) -> None:
    """Throughput against VUs, one panel per backend, one line per swept scenario (log scale)."""
    import matplotlib  # noqa: PLC0415 - plotting is only needed when a report is written

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    figure, axes = pyplot.subplots(1, len(sweeps), figsize=(7 * len(sweeps), 5), squeeze=False)
    for axis, (backend, scenarios) in zip(axes[0], sweeps.items(), strict=True):
        for name, results in scenarios.items():
            if len(results) > 1:
                axis.plot([r.vus for r in results], [r.rps for r in results], marker="o", label=name)
        axis.set(title=backend, xlabel="VUs", ylabel="requests/s", yscale="log")
        axis.grid(True, which="both", alpha=0.3)
        if axis.get_lines():
            axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write(sweeps: Sweeps, extras: Mapping[str, Mapping[str, float]], stem: Path, *, settings: str) -> None:
    """Writes `stem`.json, .md and .png."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(as_json(sweeps, extras), indent=2) + "\n")
    png = stem.with_suffix(".png")
    plot(sweeps, png)
    stem.with_suffix(".md").write_text(markdown(sweeps, extras, settings=settings, plot=png.name))
