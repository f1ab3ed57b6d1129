"""`python -m services.q2q.evaluation` prints per label and per language, micro, direction confusion, throughput."""

from __future__ import annotations

import pytest

from services.q2q.domain.taxonomy import LABELS
from services.q2q.evaluation.__main__ import main


def test_command_prints_the_tables_on_the_test_split(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "ai_classifier q2q-linear-3+" in out
    for word in ("precision", "recall", "f1", "macro F1:", "micro precision", "texts/s on one core"):
        assert word in out
    for entry in LABELS:
        assert entry.label.value in out
    for lang in ("en", "nb", "sv", "da", "de", "pl", "es", "uk", "ar"):
        assert f"\n{lang} " in out
    assert "confidence direction" in out
    assert "belonging direction" in out
    assert "flipped direction:" in out


def test_the_rules_can_be_scored_on_the_rules_own_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", "eval", "--classifier", "rules"]) == 0
    assert "rule_based rules-1.0.0" in capsys.readouterr().out
