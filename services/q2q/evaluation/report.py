"""The evaluation report as text: per label, per language, per tag, direction confusion and throughput."""

from __future__ import annotations

from services.q2q.evaluation.metrics import DIRECTIONS, TAGS, Report

_RULE = "-" * 61
_KINDS = ("increase", "decrease", "none", "both")


def format_report(report: Report, *, show_errors: bool = False) -> str:
    """The whole report."""
    lines = [f"{'label':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}", _RULE]
    for s in report.scores:
        lines.append(f"{s.label.value:<26}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.support:>9d}")
    micro = report.micro
    lines += [_RULE, f"macro F1: {report.macro_f1:.3f}",
              f"micro precision {micro.precision:.3f}  recall {micro.recall:.3f}  F1 {micro.f1:.3f}",
              f"texts: {report.texts}"]  # fmt: skip
    languages = report.languages()
    if len(languages) > 1:
        lines += ["", _languages(languages)]
    if report.examples:
        lines += ["", *(_confusion(report, name) for name, _, _ in DIRECTIONS)]
    if tagged := [tag for tag in TAGS if any(tag in e.tags for e in report.examples)]:
        lines += ["", _tags(report, tagged)]
    lines.append(f"throughput: {report.texts_per_second:.0f} texts/s on one core")
    if show_errors:
        for example_id, expected, got in report.errors:
            lines.append(f"{example_id}: expected {sorted(expected)} got {sorted(got)}")
    return "\n".join(lines)


def _languages(languages: dict[str, Report]) -> str:
    lines = [f"{'language':<10}{'macro F1':>10}{'micro P':>9}{'micro R':>9}{'micro F1':>10}{'texts':>7}", _RULE]
    for lang, part in languages.items():
        micro = part.micro
        lines.append(
            f"{lang:<10}{part.macro_f1:>10.3f}{micro.precision:>9.3f}{micro.recall:>9.3f}{micro.f1:>10.3f}{part.texts:>7d}"
        )
    return "\n".join(lines)


def _tags(report: Report, tags: list[str]) -> str:
    header = f"{'tag':<23}{'texts':>6}{'flips':>6}{'both':>6}{'anxiety wrong':>14}{'of expected':>12}{'micro F1':>9}"
    lines = [header, "-" * len(header)]
    for tag in tags:
        f = report.tag_figures(tag)
        lines.append(
            f"{tag:<23}{f.texts:>6d}{f.flips:>6d}{f.both:>6d}{f.anxiety_wrong:>14d}{f.anxiety_expected:>12d}{f.micro_f1:>9.3f}"
        )
    lines.append("flips: one expected direction read as the other; both: one expected, both read; anxiety wrong:")
    lines.append("scored as the participant's anxiety without it in the labels (of expected: texts labelled anxiety)")
    return "\n".join(lines)


def _confusion(report: Report, dimension: str) -> str:
    counts = report.direction_confusion(dimension)
    lines = [
        f"{dimension} direction (rows expected, columns predicted):",
        " " * 10 + "".join(f"{k:>10}" for k in _KINDS),
    ]
    for expected in _KINDS:
        row = [counts.get((expected, got), 0) for got in _KINDS]
        if any(row):
            lines.append(f"{expected:<10}" + "".join(f"{n:>10d}" for n in row))
    flips = counts.get(("increase", "decrease"), 0) + counts.get(("decrease", "increase"), 0)
    lines.append(f"flipped direction: {flips}")
    return "\n".join(lines)
