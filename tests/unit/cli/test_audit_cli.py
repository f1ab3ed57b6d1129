"""`teei audit verify|checkpoint` on real databases: a sound log passes; an edited, deleted or reordered
record fails naming it; a checkpoint signed with another key fails; gateway checkpoints are JWS; q2q's log
is found and checked like every other service's."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from services.cli import main
from services.gateway import bootstrap, handlers
from services.gateway.domain.commands import MintToken
from services.kit.audit import actors, checkpoints
from services.kit.persistence import db
from services.kit.security import pii
from services.q2q import bootstrap as q2q_bootstrap
from services.q2q import handlers as q2q_handlers
from services.q2q.domain.commands import RecordManualScore
from services.q2q.domain.taxonomy import Dimension
from services.q2q.repository import SqlQ2qUnitOfWork
from tests.unit.kit.audit.support import fill, migrated, tamper

KEK = base64.b64encode(b"c" * 32).decode()


def _teei(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main.main(["audit", *args])
    code = exited.value.code
    return code if isinstance(code, int) else -1, capsys.readouterr().out


@pytest.fixture
def gateway_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A gateway database with 8 records (2 start-up rotations, 6 minted tokens), checkpoints every 3."""
    monkeypatch.setenv("TEEI_KEY_ENCRYPTION_KEY", KEK)
    monkeypatch.setenv("TEEI_AUDIT_CHECKPOINT_EVERY", "3")
    gateway = bootstrap.open_gateway(db.sqlite_url(tmp_path / "gateway.db"), tmp_path)
    try:
        with actors.acting_as(actors.operator()):
            for n in range(6):
                command = MintToken(role="company_admin", company_id="acme", subject=f"dev-{n}")
                handlers.mint_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings)
    finally:
        gateway.engine.dispose()
    return tmp_path


def test_a_sound_gateway_log_verifies(gateway_var: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _teei(capsys, "verify", "--service", "gateway", "--var-dir", str(gateway_var))
    assert (code, out.split(",")[:3]) == (0, ["gateway: ok", " 8 records", " 2 checkpoints"])


@pytest.mark.parametrize(
    ("statements", "named"),
    [
        (["UPDATE audit_records SET actor = 'intruder' WHERE sequence = 4"], 4),
        (["DELETE FROM audit_records WHERE sequence = 7"], 7),
        (
            [
                "UPDATE audit_records SET sequence = -1 WHERE sequence = 5",
                "UPDATE audit_records SET sequence = 5 WHERE sequence = 6",
                "UPDATE audit_records SET sequence = 6 WHERE sequence = -1",
            ],
            5,
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_a_tampered_gateway_log_fails_naming_the_record(
    gateway_var: Path, capsys: pytest.CaptureFixture[str], statements: list[str], named: int
) -> None:
    engine = db.create_engine(db.sqlite_url(gateway_var / "gateway.db"))
    try:
        tamper(engine, *statements)
    finally:
        engine.dispose()
    code, out = _teei(capsys, "verify", "--var-dir", str(gateway_var))
    assert code == 1
    assert out.startswith(f"gateway: FAILED at record {named}: ")


def test_an_on_demand_checkpoint_is_verified_with_the_service_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEEI_AUDIT_KEY", raising=False)
    engine = migrated(db.sqlite_url(tmp_path / "upskilling.db"))
    try:
        fill(engine, 4)
    finally:
        engine.dispose()
    args = ("--service", "upskilling", "--var-dir", str(tmp_path))
    code, out = _teei(capsys, "checkpoint", *args)
    assert (code, out.splitlines()[-1]) == (0, '{"checkpoint": 4, "service": "upskilling"}')
    code, out = _teei(capsys, "verify", *args)
    assert (code, out.split(",")[:3]) == (0, ["upskilling: ok", " 4 records", " 1 checkpoints"])
    # Another key (a forger's) does not verify the checkpoint.
    monkeypatch.setenv("TEEI_AUDIT_KEY", base64.urlsafe_b64encode(b"f" * 32).decode())
    code, out = _teei(capsys, "verify", *args)
    assert (code, out) == (1, "upskilling: FAILED at record 4: checkpoint at record 4 has an invalid signature\n")


def test_verify_without_any_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.main(["audit", "verify", "--var-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "no audit log found" in capsys.readouterr().err


def test_an_on_demand_gateway_checkpoint_is_a_jws_of_its_key_ring(
    gateway_var: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--service", "gateway", "--var-dir", str(gateway_var))
    code, out = _teei(capsys, "checkpoint", *args)
    assert (code, out.splitlines()[-1]) == (0, '{"checkpoint": 8, "service": "gateway"}')
    code, out = _teei(capsys, "verify", *args)
    assert (code, out.split(",")[:3]) == (0, ["gateway: ok", " 8 records", " 3 checkpoints"])


@pytest.fixture
def q2q_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A q2q database with 5 records (manual scores set at the CLI), checkpoints every 2 with its own key."""
    monkeypatch.delenv("TEEI_AUDIT_KEY", raising=False)
    monkeypatch.setenv("TEEI_AUDIT_CHECKPOINT_EVERY", "2")
    url = db.sqlite_url(tmp_path / "q2q.db")
    db.upgrade(url, q2q_bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    checkpoints.attach_service_key(engine, tmp_path)
    cipher = pii.local(tmp_path, "q2q")  # a manual score's note is sealed, as the service seals it
    pii.attach(engine, cipher)
    uow = SqlQ2qUnitOfWork(db.UnitOfWork(engine))
    try:
        with actors.acting_as(actors.operator()):
            for n in range(5):
                command = RecordManualScore(
                    company_id="acme", profile_id=str(uuid.UUID(int=n + 1)), source_type=None, source_id="",
                    dimension=Dimension.CONFIDENCE, score=0.5, note="interview", recorded_by="coach",
                )  # fmt: skip
                q2q_handlers.record_manual_score(command, uow=uow)
    finally:
        cipher.close()
        engine.dispose()
    return tmp_path


def test_a_q2q_log_is_verified_with_the_others_and_an_edit_fails_naming_the_record(
    q2q_var: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _teei(capsys, "verify", "--var-dir", str(q2q_var))
    assert (code, out.split(",")[:3]) == (0, ["q2q: ok", " 5 records", " 2 checkpoints"])
    engine = db.create_engine(db.sqlite_url(q2q_var / "q2q.db"))
    try:
        tamper(engine, "UPDATE audit_records SET tenant = 'globex' WHERE sequence = 3")
    finally:
        engine.dispose()
    code, out = _teei(capsys, "verify", "--service", "q2q", "--var-dir", str(q2q_var))
    assert (code, out) == (1, "q2q: FAILED at record 3: record 3 was edited or moved (its hash does not match)\n")
