"""`teei privacy`: the subject is required (one way only), erasure needs --yes, and no call goes out
without a token."""

from __future__ import annotations

import pytest

from services.cli.main import main


def test_a_request_without_a_token_stops_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEEI_TOKEN", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["privacy", "--edge", "http://127.0.0.1:9", "export", "--email", "ada@example.org"])
    assert "TEEI_TOKEN" in str(stopped.value.code)


@pytest.mark.parametrize(
    "argv",
    [
        ["privacy", "export"],
        ["privacy", "export", "--email", "a@example.org", "--own"],
        ["privacy", "erase", "--email", "a@example.org"],
    ],
    ids=["no-subject", "two-subjects", "erase-unconfirmed"],
)
def test_malformed_commands_are_refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    assert "usage: teei privacy" in capsys.readouterr().err
