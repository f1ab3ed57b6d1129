"""The rate-limit service's own settings and its limits file, read once at start (secrets also from `*_FILE`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.kit.config import Settings, setting
from services.ratelimit.domain.errors import LimitsConfigError
from services.ratelimit.domain.limits import Limits, parse_limits

DEFAULT_LIMITS = Path(__file__).resolve().parent / "limits.yaml"
_MAX_LIMITS_BYTES = 256 * 1024


class RateLimitConfig(Settings):
    """Where the limits are, and where counters live (Redis when REDIS_URL is set, else this process)."""

    limits_path: Path = setting("TEEI_RATELIMIT_CONFIG", default=DEFAULT_LIMITS)
    redis_url: str | None = setting("REDIS_URL", default=None, secret=True)
    redis_prefix: str = setting("TEEI_RATELIMIT_REDIS_PREFIX", default="teei:ratelimit:")
    # Envoy waits only briefly for an answer (its filter's `timeout`), so Redis gets no more than this.
    redis_timeout_seconds: float = setting("TEEI_RATELIMIT_REDIS_TIMEOUT_SECONDS", default=0.25)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of keeping the last one."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[object, object]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    if duplicates:
        raise LimitsConfigError(f"duplicate keys: {', '.join(duplicates)}")
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_limits(path: Path) -> Limits:
    """Reads and validates the limits file; raises LimitsConfigError naming the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LimitsConfigError(f"{path}: cannot read: {exc}") from exc
    if len(raw) > _MAX_LIMITS_BYTES:
        raise LimitsConfigError(f"{path}: larger than {_MAX_LIMITS_BYTES} bytes")
    try:
        document = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        return parse_limits(document)
    except yaml.YAMLError as exc:
        raise LimitsConfigError(f"{path}: not valid YAML: {exc}") from exc
    except LimitsConfigError as exc:
        raise LimitsConfigError(f"{path}: {exc}") from exc
