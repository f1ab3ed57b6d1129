"""`teei up` encrypts JetStream at rest: NATS gets the store key (configured, or generated once into var/ with
mode 0600) and no other process does; the configuration it writes names the key's variable, never the key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.cli import spec
from services.cli.launcher import LaunchError, Mesh
from services.kit.messaging import store_encryption

KEY = "c3RvcmUta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMhIQ=="  # 44 base64 characters


def test_nats_alone_gets_the_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ={})
    key = mesh._environment(mesh.resource("nats"))[store_encryption.KEY_VARIABLE]
    path = tmp_path / store_encryption.KEY_FILE
    assert key == f'"{path.read_text().strip()}"'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mesh._environment(mesh.resource("nats"))[store_encryption.KEY_VARIABLE] == key  # the same, not a new one
    assert store_encryption.KEY_VARIABLE not in mesh._environment(mesh.resource("profile"))


def test_a_configured_key_is_used_as_given_passed_to_nats_only_and_no_file_is_written(tmp_path: Path) -> None:
    environ = {store_encryption.KEY_VARIABLE: KEY}
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ=environ)
    assert mesh._environment(mesh.resource("nats"))[store_encryption.KEY_VARIABLE] == f'"{KEY}"'
    for name in ("gateway", "profile", "edge"):
        assert store_encryption.KEY_VARIABLE not in mesh._environment(mesh.resource(name)), name
    assert not (tmp_path / store_encryption.KEY_FILE).exists()


def test_the_key_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY + "\n")
    environ = {f"{store_encryption.KEY_VARIABLE}_FILE": str(tmp_path / "key")}
    assert store_encryption.store_key(environ, tmp_path / "var") == KEY
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path / "var", environ=environ)
    assert f"{store_encryption.KEY_VARIABLE}_FILE" not in mesh._environment(mesh.resource("profile"))


@pytest.mark.parametrize("key", ["short", "x" * 31, "has space " + "x" * 32, 'quote"' + "x" * 32])
def test_a_weak_or_unsafe_key_stops_the_start_naming_the_variable(tmp_path: Path, key: str) -> None:
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ={store_encryption.KEY_VARIABLE: key})
    with pytest.raises(LaunchError, match=store_encryption.KEY_VARIABLE):
        mesh._environment(mesh.resource("nats"))


def test_the_configuration_turns_the_cipher_on_and_holds_no_key(tmp_path: Path) -> None:
    environ = {store_encryption.KEY_VARIABLE: KEY}
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ=environ)
    mesh._render_nats(mesh.resource("nats"))
    written = (tmp_path / "nats" / store_encryption.CONFIG_FILE).read_text()
    assert written == "jetstream {\n  cipher: chacha\n  key: $TEEI_NATS_STORE_KEY\n}\n"
    assert KEY not in written
    with pytest.raises(ValueError, match="TEEI_NATS_STORE_CIPHER"):
        store_encryption.settings({"TEEI_NATS_STORE_CIPHER": "rot13"})
