"""`teei backup` and `teei up --backup-every`: intervals, the passphrase rule, errors naming the file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from services.cli import backup as backup_cli
from services.cli import main
from services.kit.persistence import backup


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600.0), ("30m", 1800.0), ("90s", 90.0), ("1d", 86400.0), ("120", 120.0)]
)
def test_an_interval_reads_as_seconds(text: str, seconds: float) -> None:
    assert backup_cli.interval(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "soon", "10s"])
def test_a_bad_or_too_short_interval_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        backup_cli.interval(text)


def test_scheduled_backups_need_the_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEEI_BACKUP_PASSPHRASE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main.main(["up", "--backup-every", "1h"])
    assert exited.value.code == 2


def test_verify_of_a_folder_without_a_manifest_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEEI_BACKUP_PASSPHRASE", "a passphrase long enough")
    with pytest.raises(SystemExit) as exited:
        main.main(["backup", "--var-dir", str(tmp_path), "verify", str(tmp_path)])
    assert exited.value.code == 1
    assert "manifest.json" in capsys.readouterr().err


def test_a_short_passphrase_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEEI_BACKUP_PASSPHRASE", "short")
    with pytest.raises(SystemExit) as exited:
        main.main(["backup", "--var-dir", str(tmp_path), "create"])
    assert exited.value.code == 1
    assert "at least 12" in capsys.readouterr().err


def test_list_of_an_empty_folder_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.main(["backup", "--var-dir", str(tmp_path), "list"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == ""


def test_database_urls_name_each_service_expand_a_template_or_share_one() -> None:
    services = ["gateway", "profile"]
    assert backup_cli.database_urls(
        ["profile=postgresql://h/p?host=/run/pg", "gateway=postgresql://h/g"], services
    ) == {
        "profile": "postgresql://h/p?host=/run/pg",
        "gateway": "postgresql://h/g",
    }
    assert backup_cli.database_urls(["postgresql://h/teei_{service}"], services) == {
        "gateway": "postgresql://h/teei_gateway",
        "profile": "postgresql://h/teei_profile",
    }
    assert backup_cli.database_urls(["postgresql://h/teei?host=/run/pg"], services) == {
        "postgres": "postgresql://h/teei?host=/run/pg"
    }


def test_a_restore_of_dumps_without_target_databases_names_the_missing_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEEI_BACKUP_PASSPHRASE", "a passphrase long enough")
    monkeypatch.setattr(backup, "verify", lambda folder, passphrase: [])
    folder = tmp_path / "teei-backup-x"
    folder.mkdir()
    manifest = {"databases": {"profile": {"kind": "postgresql", "file": "databases/profile.dump"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exited:
        main.main(["backup", "--var-dir", str(tmp_path / "var"), "restore", str(folder)])
    assert exited.value.code == 1
    assert "databases/profile.dump (--database-url profile=URL)" in capsys.readouterr().err
