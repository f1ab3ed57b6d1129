""".env.example is complete: every setting a process reads is listed there (set or commented out)."""

from __future__ import annotations

import re

from services.cli.spec import REPO_ROOT

SETTING = re.compile(r'setting\(\s*"([A-Z][A-Z0-9_]*)"')


def _settings() -> set[str]:
    names: set[str] = set()
    for path in (REPO_ROOT / "services").rglob("*.py"):
        names.update(SETTING.findall(path.read_text()))
    return names


def _documented() -> set[str]:
    text = (REPO_ROOT / ".env.example").read_text()
    written = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    return written | {name.removesuffix("_FILE") for name in written}  # NAME_FILE=path documents NAME


def test_the_services_read_settings() -> None:
    assert {"TEEI_GRPC_PORT", "TEEI_JWKS_URL", "REDIS_URL"} <= _settings()


def test_every_setting_is_in_env_example() -> None:
    missing = sorted(_settings() - _documented())
    assert not missing, f".env.example lacks {missing}"
