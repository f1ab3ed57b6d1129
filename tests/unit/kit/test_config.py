"""Typed config: read once from an injected environ, failing fast with the missing name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from services.kit.config import ConfigError, ServiceConfig, describe, load, setting


@dataclass(frozen=True)
class Sample:
    port: int = setting("SAMPLE_PORT")
    ratio: float = setting("SAMPLE_RATIO", default=0.5)
    enabled: bool = setting("SAMPLE_ENABLED", default=False)
    password: str | None = setting("SAMPLE_PASSWORD", default=None, secret=True)
    folder: Path = setting("SAMPLE_FOLDER", default=Path("var"))


def test_missing_required_setting_names_it() -> None:
    with pytest.raises(ConfigError, match="SAMPLE_PORT"):
        load(Sample, {})


def test_values_are_converted_to_their_types() -> None:
    cfg = load(Sample, {"SAMPLE_PORT": "8080", "SAMPLE_RATIO": "0.25", "SAMPLE_ENABLED": "yes", "SAMPLE_FOLDER": "/x"})
    assert cfg == Sample(port=8080, ratio=0.25, enabled=True, folder=Path("/x"))


@pytest.mark.parametrize(("env", "value"), [("SAMPLE_PORT", "eighty"), ("SAMPLE_ENABLED", "maybe")])
def test_unparseable_values_fail_with_the_name(env: str, value: str) -> None:
    with pytest.raises(ConfigError, match=env):
        load(Sample, {"SAMPLE_PORT": "1", env: value})


def test_secrets_come_from_file_and_are_masked_when_described(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    cfg = load(Sample, {"SAMPLE_PORT": "1", "SAMPLE_PASSWORD_FILE": str(secret)})
    assert cfg.password == "hunter2"
    assert describe(cfg)["password"] == "***"
    assert "hunter2" not in repr(describe(cfg))


def test_unreadable_secret_file_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SAMPLE_PASSWORD_FILE"):
        load(Sample, {"SAMPLE_PORT": "1", "SAMPLE_PASSWORD_FILE": str(tmp_path / "absent")})


def test_service_config_defaults() -> None:
    cfg = load(ServiceConfig, {"TEEI_GRPC_PORT": "50052"})
    assert (cfg.grpc_port, cfg.grpc_host, cfg.database_url) == (50052, "127.0.0.1", None)
