"""Typed config: read once from an injected environ, failing fast with the missing name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.kit.config import ConfigError, ServiceConfig, Settings, describe, load, setting


class Sample(Settings):
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


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load(Sample, {"SAMPLE_RATIO": "half", "SAMPLE_ENABLED": "maybe"})
    assert all(name in str(raised.value) for name in ("SAMPLE_PORT", "SAMPLE_RATIO", "SAMPLE_ENABLED"))


class Window(Settings):
    low: int = setting("SAMPLE_LOW", default=1)
    high: int = setting("SAMPLE_HIGH", default=2)
    token: str = setting("SAMPLE_TOKEN", default="", secret=True)

    def model_post_init(self, context: Any, /) -> None:
        if self.high < self.low:
            raise ValueError("SAMPLE_HIGH must be at least SAMPLE_LOW")


def test_rules_across_settings_fail_at_load_without_echoing_secrets() -> None:
    with pytest.raises(ConfigError, match="Window: SAMPLE_HIGH must be at least SAMPLE_LOW") as raised:
        load(Window, {"SAMPLE_LOW": "5", "SAMPLE_TOKEN": "hunter2"})
    assert "hunter2" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_malformed_secret_is_named_but_not_shown() -> None:
    class Secretive(Settings):
        pin: int = setting("SAMPLE_PIN", secret=True)

    with pytest.raises(ConfigError, match="SAMPLE_PIN") as raised:
        load(Secretive, {"SAMPLE_PIN": "hunter2"})
    assert "hunter2" not in str(raised.value)


def test_settings_are_frozen_and_refuse_undeclared_fields() -> None:
    assert hash(Sample(port=1)) == hash(Sample(port=1))  # only a frozen model is hashable
    with pytest.raises(ValidationError, match="frozen"):
        Sample(port=1).__setattr__("port", 2)
    with pytest.raises(ValidationError, match="extra"):
        Sample.model_validate({"port": 1, "prot": 2})
