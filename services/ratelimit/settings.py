"""The rate-limit service's own settings and its limits file, read once at start (secrets also from `*_FILE`)."""

from __future__ import annotations

from pathlib import Path

from services.kit import yamlfiles
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


def load_limits(path: Path) -> Limits:
    """Reads and validates the limits file; raises LimitsConfigError naming the file and what is wrong."""
    try:
        document = yamlfiles.read(path, max_bytes=_MAX_LIMITS_BYTES)
    except yamlfiles.YamlFileError as exc:
        raise LimitsConfigError(str(exc)) from exc
    try:
        return parse_limits(document)
    except LimitsConfigError as exc:
        raise LimitsConfigError(f"{path}: {exc}") from exc
