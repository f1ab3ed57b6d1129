"""The evaluation command scores the shipped test set and refuses malformed sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.safety import evaluate


def test_the_shipped_set_has_full_self_harm_recall_and_no_false_alarms() -> None:
    report = evaluate.evaluate(evaluate.load(evaluate.TEST_SET), rounds=1)
    hit, total = report.hits["self_harm"]
    assert total >= 27
    assert hit == total
    assert report.false_alarms == ()
    assert report.clean_total > 30


def test_a_missed_text_and_a_false_alarm_are_counted(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "language": "en", "text": "A calm day at the park.", "expected": "self_harm"},
        {"id": "b", "language": "en", "text": "What the fuck", "expected": "clean"},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate.evaluate(evaluate.load(path), rounds=1)
    assert report.hits["self_harm"] == (0, 1)
    assert report.false_alarms == ("b",)
    assert "false alarms on clean texts: 1 of 1" in evaluate.format_report(report)


def test_a_line_without_the_required_keys_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        evaluate.load(path)


def test_the_command_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main([]) == 0
    assert "self_harm/ar" in capsys.readouterr().out


def test_the_held_out_split_has_ten_texts_per_language_for_self_harm_and_per_pii_kind() -> None:
    cases = evaluate.load(evaluate.HELDOUT_SET)
    languages = {"en", "nb", "sv", "da", "uk", "ar", "pl", "es", "de"}
    for language in languages:
        assert sum(c.expected == "self_harm" and c.language == language for c in cases) >= 10
    for kind in ("email", "phone", "national_id", "payment_card"):
        assert sum(c.subtype == kind for c in cases) >= 10
    assert sum(c.expected == "clean" for c in cases) >= 30
    assert len({c.case_id for c in cases}) == len(cases)
    # No held-out text is also in the regression set the rules were developed against.
    assert not {c.text for c in cases} & {c.text for c in evaluate.load(evaluate.TEST_SET)}


def test_a_shipped_set_is_chosen_by_name_and_any_other_value_is_a_path(tmp_path: Path) -> None:
    assert evaluate.resolve_set("heldout_v2") == evaluate.HELDOUT_V2_SET
    assert evaluate.resolve_set("dev").name == "dev.jsonl"
    assert evaluate.resolve_set(str(tmp_path / "x.jsonl")) == tmp_path / "x.jsonl"
    assert all(path.exists() for path in evaluate.SETS.values())


def test_the_second_held_out_split_covers_every_language_and_kind_and_shares_no_text() -> None:
    cases = evaluate.load(evaluate.HELDOUT_V2_SET)
    for language in ("en", "nb", "sv", "da", "uk", "ar", "pl", "es", "de"):
        assert sum(c.expected == "self_harm" and c.language == language for c in cases) >= 12
    for kind in ("email", "phone", "national_id", "payment_card"):
        assert sum(c.subtype == kind for c in cases) >= 10
    assert sum(c.expected == "toxic" for c in cases) >= 40
    assert sum(c.expected == "spam" for c in cases) >= 20
    assert sum(c.expected == "clean" for c in cases) >= 50
    assert len({c.case_id for c in cases}) == len(cases)
    earlier = {c.text for name in ("test", "dev", "heldout") for c in evaluate.load(evaluate.SETS[name])}
    # Four short sentences were written the same way independently (data/README.md names them); no more.
    assert len({c.text for c in cases} & earlier) <= 4
