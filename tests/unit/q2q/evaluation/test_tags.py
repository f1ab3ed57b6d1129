"""The per-tag figures count direction flips and wrong anxiety only on the texts that carry the tag."""

from __future__ import annotations

from services.q2q.domain.taxonomy import Label
from services.q2q.evaluation.metrics import Example, Report
from services.q2q.evaluation.report import format_report

CI, CD = Label.CONFIDENCE_INCREASE, Label.CONFIDENCE_DECREASE
BI, BD = Label.BELONGING_INCREASE, Label.BELONGING_DECREASE
AN, IS = Label.ANXIETY, Label.ISOLATION
USED, OWN = ("used_to_now",), ("volunteer_own_feeling",)

# (tags, expected, predicted)
FIXTURE = [
    (USED, {CI}, {CD}),  # flip
    (USED, {BD}, {BI, IS}),  # flip on the other dimension
    (USED, {CI, BI}, {CD, BI}),  # one flip, one right
    (USED, {BI}, {BI, BD}),  # both read, not a flip
    (USED, {CD}, {CD}),  # right
    (OWN, set(), {AN}),  # anxiety wrong
    (OWN, {AN}, {AN}),  # anxiety right
    (OWN, {AN}, set()),  # anxiety missed: expected, not wrong
    (OWN, {CI}, {CD, AN}),  # a flip and anxiety wrong
    ((), {CI}, {CD}),  # untagged: counted by neither tag
    ((), set(), {AN}),
]


def _report() -> Report:
    examples = tuple(
        Example(f"t{i}", "text", frozenset(expected), "en", tags) for i, (tags, expected, _) in enumerate(FIXTURE)
    )
    predicted = tuple(frozenset(got) for _, _, got in FIXTURE)
    return Report((), len(examples), 1.0, (), examples, predicted)


def test_used_to_now_counts_flips_and_both_per_dimension() -> None:
    figures = _report().tag_figures("used_to_now")
    assert (figures.texts, figures.flips, figures.both) == (5, 3, 1)
    assert (figures.anxiety_expected, figures.anxiety_wrong) == (0, 0)


def test_own_feeling_counts_anxiety_scored_without_the_label() -> None:
    figures = _report().tag_figures("volunteer_own_feeling")
    assert (figures.texts, figures.anxiety_expected, figures.anxiety_wrong) == (4, 2, 2)
    assert (figures.flips, figures.both) == (1, 0)


def test_micro_f1_of_a_tag_is_over_its_texts_only() -> None:
    # own feeling: predicted AN, AN, -, CD+AN against -, AN, AN, CI: 1 right of 4 predicted and 3 expected
    assert abs(_report().tag_figures("volunteer_own_feeling").micro_f1 - 2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3)) < 1e-9


def test_a_tag_absent_from_the_set_has_no_texts() -> None:
    report = _report()
    empty = Report((), 1, 1.0, (), report.examples[-1:], report.predicted[-1:])
    assert empty.tag_figures("used_to_now").texts == 0
    assert "used_to_now" not in format_report(empty)


def test_the_report_prints_a_row_per_tag_present() -> None:
    rows = {line.split()[0]: line.split()[1:6] for line in format_report(_report()).splitlines() if line}
    assert rows["used_to_now"] == ["5", "3", "1", "0", "0"]
    assert rows["volunteer_own_feeling"] == ["4", "1", "0", "2", "2"]
