"""`teei keys rotate|list`, `teei token mint`, `teei clients create|list` against a real gateway database."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from services.cli import keys
from services.gateway import bootstrap, handlers
from services.gateway.domain.commands import IssueToken
from services.kit.clock import utc_now
from services.kit.persistence import db
from tests.unit.gateway.conftest import ENVIRON, FakeClock, validator_for


@pytest.fixture(autouse=True)
def _environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def _teei(tmp_path: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="teei")
    keys.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([*argv, "--var-dir", str(tmp_path)])
    # `teei` sends its logs (the gateway database's db.migrated among them) to stderr, never among what it
    # prints; here they are held apart from stdout without configuring the process's logging for later tests.
    with capture_logs():
        code: int = args.run(args)
    return code


def test_rotate_refuses_a_fresh_next_key_then_force_rotates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _teei(tmp_path, "keys", "rotate") == 1
    assert "less than one JWKS cache period" in capsys.readouterr().err
    assert _teei(tmp_path, "keys", "rotate", "--force", "--algorithm", "ES256") == 0
    listing = capsys.readouterr().out
    assert listing.count(" active ") == 1
    assert listing.count(" next ") == 1
    assert listing.count(" retired ") == 1
    assert "ES256" in listing
    assert _teei(tmp_path, "keys", "list") == 0
    assert capsys.readouterr().out == listing


def test_token_mint_prints_a_token_the_validator_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    assert _teei(tmp_path, "token", "mint", "--role", "company_user") == 2
    assert "--tenant" in capsys.readouterr().err
    assert _teei(tmp_path, "token", "mint", "--role", "company_admin", "--tenant", "acme", "--ttl", "60") == 0
    token = capsys.readouterr().out.strip()
    gateway = bootstrap.open_gateway(db.sqlite_url(tmp_path / "gateway.db"), tmp_path, environ=ENVIRON)
    try:
        principal = validator_for(gateway, FakeClock(utc_now())).validate(token)
    finally:
        gateway.engine.dispose()
    assert (principal.role, principal.tenant, principal.subject) == ("company_admin", "acme", "dev-company_admin")


def test_clients_create_prints_a_working_secret_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("clients", "create", "--client-id", "acme-sync", "--tenant", "acme", "--role", "service", "--scope", "a")
    assert _teei(tmp_path, *args) == 0
    secret = capsys.readouterr().out.splitlines()[1].removeprefix("client_secret=")
    assert _teei(tmp_path, *args) == 1
    assert "exists" in capsys.readouterr().err
    assert _teei(tmp_path, "clients", "list", "--tenant", "acme") == 0
    assert capsys.readouterr().out.split("\t")[:3] == ["acme-sync", "service", "a"]
    gateway = bootstrap.open_gateway(db.sqlite_url(tmp_path / "gateway.db"), tmp_path, environ=ENVIRON)
    try:
        command = IssueToken("client_credentials", "acme-sync", secret)
        issued = handlers.issue_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings)
    finally:
        gateway.engine.dispose()
    assert issued.claims["company"] == "acme"


@pytest.mark.parametrize("tenant", ["acme ", " ", "*", "%", "Acme", "acme\n", "../acme"])
@pytest.mark.parametrize(
    "argv",
    [
        ("token", "mint", "--role", "company_admin", "--tenant"),
        ("clients", "create", "--client-id", "acme-sync", "--role", "service", "--tenant"),
        ("clients", "list", "--tenant"),
    ],
)
def test_a_tenant_in_another_spelling_is_a_usage_error_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], tenant: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        _teei(tmp_path, *argv, tenant)
    assert exited.value.code == 2
    assert "argument --tenant: must be 1-63 lower-case letters" in capsys.readouterr().err
    assert not (tmp_path / "gateway.db").exists()
