"""`python -m services.q2q.evaluation` runs on the shipped set and prints the per-label table."""

from __future__ import annotations

import pytest

from services.q2q.domain.taxonomy import LABELS
from services.q2q.evaluation.__main__ import main


def test_command_prints_the_table_macro_f1_and_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "precision" in out
    assert "recall" in out
    assert "f1" in out
    for entry in LABELS:
        assert entry.label.value in out
    assert "macro F1:" in out
    assert "texts/s" in out
